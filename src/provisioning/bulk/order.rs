//! The order of a Bulk request's operations and the member adds deferred to break cycles
//! (RFC 7644 §3.7.1, §3.7.2): see the module documentation of [`super`].

use std::collections::{BTreeSet, HashMap};

use crate::store::groups::GroupId;

use super::request::*;

pub(super) struct Deferred {
    pub(super) op: usize,
    pub(super) group: Option<GroupId>,
    pub(super) bulk_ids: BTreeSet<String>,
}

/// Deferred member adds, each waiting for its `bulkId`s to settle; indexed by `bulkId`, so that
/// settling one costs what waits on it, not a pass over every deferred group.
#[derive(Default)]
pub(super) struct DeferredAdds {
    /// Each deferred add and how many of its `bulkId`s are still unsettled; `None` once run.
    pub(super) adds: Vec<Option<(Deferred, usize)>>,
    /// `bulkId` → the deferred adds waiting for it.
    pub(super) waiting: HashMap<String, Vec<usize>>,
}

impl DeferredAdds {
    /// Defers `add` until every one of its `bulkId`s (all unsettled: they were waited on) has
    /// settled.
    pub(super) fn push(&mut self, add: Deferred) {
        let at = self.adds.len();
        for id in &add.bulk_ids {
            self.waiting.entry(id.clone()).or_default().push(at);
        }
        let unsettled = add.bulk_ids.len();
        self.adds.push(Some((add, unsettled)));
    }

    /// `bulk_id` has settled: the deferred adds that now wait for nothing, in the order they
    /// were deferred.
    pub(super) fn settle(&mut self, bulk_id: &str) -> Vec<Deferred> {
        let mut due = Vec::new();
        for at in self.waiting.remove(bulk_id).unwrap_or_default() {
            let Some(entry) = self.adds.get_mut(at) else {
                continue;
            };
            if let Some((_, unsettled)) = entry {
                *unsettled = unsettled.saturating_sub(1);
                if *unsettled == 0
                    && let Some((add, _)) = entry.take()
                {
                    due.push((at, add));
                }
            }
        }
        due.sort_by_key(|(at, _)| *at);
        due.into_iter().map(|(_, add)| add).collect()
    }
}

/// What runs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    /// The first operation, in request order, that waits for no other.
    Ready(usize),
    /// None is ready: break the cycle at this `POST /Groups`, whose waiting references are all
    /// `members` values.
    Break(usize),
    /// None is ready and no cycle can be broken: this operation fails.
    Cycle(usize),
    /// Every operation has run.
    Done,
}

/// The order of a Bulk request's operations (module docs), kept in O(operations + references)
/// for the whole request: per operation, how many declared `bulkId`s it still waits for (and
/// how many of those are not `members` values), and who waits for whom. A scan per step would
/// make a request of `maxOperations` cost their square, on the request's worker.
pub(super) struct Schedule {
    pub(super) unfinished: BTreeSet<usize>,
    pub(super) ready: BTreeSet<usize>,
    /// Unfinished `POST /Groups` that wait only through `members` values.
    pub(super) breakable: BTreeSet<usize>,
    pub(super) waits: Vec<usize>,
    /// Of [`Schedule::waits`], those not through a `members` value.
    pub(super) other_waits: Vec<usize>,
    /// For each operation, who waits for it, and whether through a `members` value.
    pub(super) dependents: Vec<Vec<(usize, bool)>>,
    pub(super) group_post: Vec<bool>,
}

impl Schedule {
    pub(super) fn new(
        ops: &[Operation],
        declared: &HashMap<String, usize>,
        refs: &[BTreeSet<String>],
        results: &[Option<OpResult>],
    ) -> Schedule {
        let n = ops.len();
        let mut schedule = Schedule {
            unfinished: (0..n).filter(|&i| results[i].is_none()).collect(),
            ready: BTreeSet::new(),
            breakable: BTreeSet::new(),
            waits: vec![0; n],
            other_waits: vec![0; n],
            dependents: vec![Vec::new(); n],
            group_post: ops.iter().map(is_post_groups).collect(),
        };
        for i in 0..n {
            if results[i].is_some() {
                continue;
            }
            let members = if schedule.group_post[i] {
                member_references(&ops[i])
            } else {
                BTreeSet::new()
            };
            for r in &refs[i] {
                let Some(&d) = declared.get(r) else { continue };
                if d == i || results[d].is_some() {
                    continue;
                }
                let through_members = members.contains(r);
                schedule.waits[i] += 1;
                if !through_members {
                    schedule.other_waits[i] += 1;
                }
                schedule.dependents[d].push((i, through_members));
            }
            schedule.classify(i);
        }
        schedule
    }

    /// Files an unfinished operation under ready or breakable by its counts.
    pub(super) fn classify(&mut self, i: usize) {
        if !self.unfinished.contains(&i) {
            return;
        }
        if self.waits[i] == 0 {
            self.breakable.remove(&i);
            self.ready.insert(i);
        } else if self.group_post[i] && self.other_waits[i] == 0 {
            self.breakable.insert(i);
        }
    }

    pub(super) fn next(&self) -> Next {
        if let Some(&i) = self.ready.first() {
            Next::Ready(i)
        } else if let Some(&b) = self.breakable.first() {
            Next::Break(b)
        } else if let Some(&i) = self.unfinished.first() {
            Next::Cycle(i)
        } else {
            Next::Done
        }
    }

    /// The `bulkId`s of `refs` (operation `i`'s) whose operations have not run yet.
    pub(super) fn waiting(
        &self,
        i: usize,
        refs: &BTreeSet<String>,
        declared: &HashMap<String, usize>,
    ) -> BTreeSet<String> {
        refs.iter()
            .filter(|r| {
                declared
                    .get(*r)
                    .is_some_and(|&d| d != i && self.unfinished.contains(&d))
            })
            .cloned()
            .collect()
    }

    /// Operation `i` has run (or failed): whoever waited for it waits for one fewer.
    pub(super) fn finish(&mut self, i: usize) {
        if !self.unfinished.remove(&i) {
            return;
        }
        self.ready.remove(&i);
        self.breakable.remove(&i);
        for (j, through_members) in std::mem::take(&mut self.dependents[i]) {
            self.waits[j] = self.waits[j].saturating_sub(1);
            if !through_members {
                self.other_waits[j] = self.other_waits[j].saturating_sub(1);
            }
            self.classify(j);
        }
    }
}
