//! When each token was last used, to the minute, at the cost of at most one write per token per
//! minute per node: every authenticated request marks its token in memory ([`LastUsed::touch`],
//! a map lookup), and a background task writes the marks made since its last run in one batch
//! ([`LastUsed::flush`]; on SQLite through the writer).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, NaiveDateTime};

use crate::scim::ScimError;
use crate::store::{Store, api_tokens, write_tx};

/// A token's mark: the minute (unix seconds / 60) it was last seen in, and whether that minute
/// has been written.
#[derive(Debug, Clone, Copy)]
struct Mark {
    minute: i64,
    written: bool,
}

/// The in-memory marks of one node. Holds the tokens used since the last flush or in the
/// current minute: a flush forgets the others.
#[derive(Debug, Default)]
pub struct LastUsed {
    marks: Mutex<HashMap<String, Mark>>,
}

impl LastUsed {
    /// Marks `jti` as used at `now_unix` (seconds). A token already marked in this minute
    /// costs one lookup.
    pub fn touch(&self, jti: &str, now_unix: i64) {
        let minute = now_unix.div_euclid(60);
        let mut marks = self.marks.lock().unwrap_or_else(PoisonError::into_inner);
        match marks.get_mut(jti) {
            Some(mark) if mark.minute == minute => {}
            Some(mark) => {
                *mark = Mark {
                    minute,
                    written: false,
                }
            }
            None => {
                marks.insert(
                    jti.to_owned(),
                    Mark {
                        minute,
                        written: false,
                    },
                );
            }
        }
    }

    /// The marks not yet written, now counted as written; forgets written marks of minutes
    /// before `now_unix`'s.
    fn take(&self, now_unix: i64) -> Vec<(String, NaiveDateTime)> {
        let current = now_unix.div_euclid(60);
        let mut marks = self.marks.lock().unwrap_or_else(PoisonError::into_inner);
        marks.retain(|_, mark| !mark.written || mark.minute >= current);
        marks
            .iter_mut()
            .filter(|(_, mark)| !mark.written)
            .filter_map(|(jti, mark)| {
                mark.written = true;
                let at = DateTime::from_timestamp(mark.minute.saturating_mul(60), 0)?;
                Some((jti.clone(), at.naive_utc()))
            })
            .collect()
    }

    /// Writes the marks made since the last flush, in one write; returns how many.
    pub async fn flush(&self, store: &Store, now_unix: i64) -> Result<usize, ScimError> {
        let used = self.take(now_unix);
        if used.is_empty() {
            return Ok(0);
        }
        let count = used.len();
        store
            .run_write(move |conn| {
                write_tx(conn, |conn| api_tokens::touch(conn, &used)).map_err(ScimError::from)
            })
            .await?;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_written_once_per_minute() {
        let marks = LastUsed::default();
        let t0: i64 = 30_000_000 * 60;
        marks.touch("a", t0 + 1);
        marks.touch("a", t0 + 30);
        marks.touch("b", t0 + 59);
        let mut first = marks.take(t0 + 59);
        first.sort();
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].1.and_utc().timestamp(), t0);
        // Used again in the same minute: nothing new to write.
        marks.touch("a", t0 + 59);
        assert!(marks.take(t0 + 59).is_empty());
        // The next minute: written again.
        marks.touch("a", t0 + 61);
        let second = marks.take(t0 + 61);
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].1.and_utc().timestamp(), t0 + 60);
        // Written marks of past minutes are forgotten.
        marks.take(t0 + 200);
        assert!(marks.marks.lock().unwrap().is_empty());
    }
}
