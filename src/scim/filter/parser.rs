//! The bounded filter parser (RFC 7644 §3.4.2.2), which also parses the PATCH path grammar
//! (RFC 7644 §3.5.2).

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use super::ast::{CompareOp, Filter};
use super::{MAX_FILTER_DEPTH, MAX_FILTER_LENGTH, MAX_FILTER_SUBSTRING_TERMS, MAX_FILTER_TERMS};
use crate::scim::error::ScimError;
use crate::scim::path::{self, AttrPath};

impl FromStr for Filter {
    type Err = ScimError;

    /// Parse filter text (RFC 7644 §3.4.2.2). Attribute names, operators and `and`/`or`/`not`
    /// ignore case; precedence is `not` > `and` > `or`; `( )` groups and `[ ]` selects values
    /// (not nested). Values are JSON strings, numbers, `true`, `false`, `null`, or a bare word
    /// taken as a string (Entra's legacy `externalId eq jyoung`). Entra's
    /// `emails[type eq "work"].value eq "x"` becomes a [`Filter::ValuePath`] whose filter is
    /// `type eq "work" and value eq "x"`. Text longer than [`MAX_FILTER_LENGTH`] or nested deeper
    /// than [`MAX_FILTER_DEPTH`] is refused. Every error is `invalidFilter`.
    ///
    /// A filter of more than [`MAX_FILTER_TERMS`] comparisons or [`MAX_FILTER_SUBSTRING_TERMS`]
    /// substring comparisons is `tooMany` (RFC 7644 §3.12: more than the server is willing to
    /// process).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let filter = parse_filter(s).map_err(ScimError::invalid_filter)?;
        check_cost(std::iter::once(&filter)).map_err(ScimError::too_many)?;
        Ok(filter)
    }
}

/// Refuses filters whose evaluation per resource, all together, is more than the server is
/// willing to do ([`MAX_FILTER_TERMS`], [`MAX_FILTER_SUBSTRING_TERMS`]); the error is a detail
/// message. Used for a query's `filter` and for the value filters of its `attributes` /
/// `excludedAttributes`.
pub(in crate::scim) fn check_cost<'f>(
    filters: impl IntoIterator<Item = &'f Filter>,
) -> Result<(), String> {
    /// Counts comparisons and substring comparisons; the recursion is bounded by the tree's
    /// height ([`MAX_FILTER_DEPTH`]).
    fn count(f: &Filter, terms: &mut usize, substrings: &mut usize) {
        match f {
            Filter::And(a, b) | Filter::Or(a, b) => {
                count(a, terms, substrings);
                count(b, terms, substrings);
            }
            Filter::Not(a) | Filter::ValuePath { filter: a, .. } => count(a, terms, substrings),
            Filter::Present(_) => *terms += 1,
            Filter::Compare { op, .. } => {
                *terms += 1;
                if op.is_substring() {
                    *substrings += 1;
                }
            }
        }
    }
    let (mut terms, mut substrings) = (0, 0);
    for filter in filters {
        count(filter, &mut terms, &mut substrings);
    }
    if terms > MAX_FILTER_TERMS {
        return Err(format!(
            "the filter has {terms} comparisons; this server evaluates at most {MAX_FILTER_TERMS} \
             per query: split it into several queries"
        ));
    }
    if substrings > MAX_FILTER_SUBSTRING_TERMS {
        return Err(format!(
            "the filter has {substrings} substring comparisons (co, sw, ew); this server evaluates \
             at most {MAX_FILTER_SUBSTRING_TERMS} per query, as no index serves them: use eq where \
             you can, or split the query"
        ));
    }
    Ok(())
}
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Str(String),
    Word(String),
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Open => f.write_str("'('"),
            Token::Close => f.write_str("')'"),
            Token::OpenBracket => f.write_str("'['"),
            Token::CloseBracket => f.write_str("']'"),
            Token::Str(s) => write!(f, "{}", Value::String(s.clone())),
            Token::Word(w) => write!(f, "'{w}'"),
        }
    }
}

fn tokenize(s: &str) -> Result<Vec<Token>, String> {
    if s.len() > MAX_FILTER_LENGTH {
        return Err(format!(
            "longer than {MAX_FILTER_LENGTH} bytes; split the query"
        ));
    }
    let bytes = s.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        let single = match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'(' => Some(Token::Open),
            b')' => Some(Token::Close),
            b'[' => Some(Token::OpenBracket),
            b']' => Some(Token::CloseBracket),
            _ => None,
        };
        if let Some(token) = single {
            tokens.push(token);
            i += 1;
            continue;
        }
        let start = i;
        if c == b'"' {
            i += 1;
            loop {
                match bytes.get(i) {
                    None => return Err("unterminated string".to_owned()),
                    Some(b'\\') => i += 2,
                    Some(b'"') => break,
                    Some(_) => i += 1,
                }
            }
            i += 1;
            let literal = s.get(start..i).unwrap_or_default();
            let text: String =
                serde_json::from_str(literal).map_err(|_| format!("invalid string {literal}"))?;
            tokens.push(Token::Str(text));
        } else {
            while bytes.get(i).is_some_and(|b| !b" \t\r\n()[]\"".contains(b)) {
                i += 1;
            }
            tokens.push(Token::Word(s.get(start..i).unwrap_or_default().to_owned()));
        }
    }
    Ok(tokens)
}

struct Node {
    pub(super) filter: Filter,
    pub(super) height: usize,
}

fn node(filter: Filter, height: usize) -> Result<Node, String> {
    if height > MAX_FILTER_DEPTH {
        return Err(format!("nested deeper than {MAX_FILTER_DEPTH} levels"));
    }
    Ok(Node { filter, height })
}

/// Join `terms` with `join` as a balanced tree, keeping their order.
fn balanced(
    terms: Vec<Node>,
    join: fn(Box<Filter>, Box<Filter>) -> Filter,
) -> Result<Node, String> {
    let mut layer = terms;
    while layer.len() > 1 {
        let mut next = Vec::with_capacity(layer.len().div_ceil(2));
        let mut items = layer.into_iter();
        while let Some(a) = items.next() {
            next.push(match items.next() {
                Some(b) => node(
                    join(Box::new(a.filter), Box::new(b.filter)),
                    a.height.max(b.height) + 1,
                )?,
                None => a,
            });
        }
        layer = next;
    }
    layer.pop().ok_or_else(|| "empty expression".to_owned())
}

struct Parser {
    pub(super) tokens: std::iter::Peekable<std::vec::IntoIter<Token>>,
    pub(super) depth: usize,
}

impl Parser {
    pub(super) fn new(tokens: Vec<Token>) -> Self {
        Self {
            tokens: tokens.into_iter().peekable(),
            depth: 0,
        }
    }

    pub(super) fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(format!("nested deeper than {MAX_FILTER_DEPTH} levels"));
        }
        Ok(())
    }

    pub(super) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    pub(super) fn peek_keyword(&mut self, keyword: &str) -> bool {
        matches!(self.tokens.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    pub(super) fn expect(&mut self, want: Token) -> Result<(), String> {
        match self.tokens.next() {
            Some(t) if t == want => Ok(()),
            Some(t) => Err(format!("expected {want}, found {t}")),
            None => Err(format!("expected {want}, found the end")),
        }
    }

    pub(super) fn end(&mut self) -> Result<(), String> {
        match self.tokens.next() {
            None => Ok(()),
            Some(t) => Err(format!("unexpected {t}")),
        }
    }

    pub(super) fn or_expr(&mut self, in_value_path: bool) -> Result<Node, String> {
        let mut terms = vec![self.and_expr(in_value_path)?];
        while self.peek_keyword("or") {
            self.tokens.next();
            terms.push(self.and_expr(in_value_path)?);
        }
        balanced(terms, Filter::Or)
    }

    pub(super) fn and_expr(&mut self, in_value_path: bool) -> Result<Node, String> {
        let mut terms = vec![self.unary(in_value_path)?];
        while self.peek_keyword("and") {
            self.tokens.next();
            terms.push(self.unary(in_value_path)?);
        }
        balanced(terms, Filter::And)
    }

    pub(super) fn unary(&mut self, in_value_path: bool) -> Result<Node, String> {
        if !self.peek_keyword("not") {
            return self.atom(in_value_path);
        }
        self.tokens.next();
        self.enter()?;
        let inner = self.unary(in_value_path)?;
        self.leave();
        node(Filter::Not(Box::new(inner.filter)), inner.height + 1)
    }

    pub(super) fn atom(&mut self, in_value_path: bool) -> Result<Node, String> {
        let word = match self.tokens.next() {
            Some(Token::Open) => {
                self.enter()?;
                let inner = self.or_expr(in_value_path)?;
                self.expect(Token::Close)?;
                self.leave();
                return Ok(inner);
            }
            Some(Token::Word(w)) => w,
            Some(t) => return Err(format!("expected an attribute path, found {t}")),
            None => return Err("unexpected end of filter".to_owned()),
        };
        let path = path::parse_attr_path(&word)?;
        if in_value_path && (path.urn.is_some() || path.sub_attr.is_some()) {
            return Err(format!("'{word}': inside '[…]' name a sub-attribute only"));
        }
        if self.tokens.peek() != Some(&Token::OpenBracket) {
            return node(self.comparison(path)?, 1);
        }
        if in_value_path {
            return Err("value paths cannot be nested".to_owned());
        }
        if path.sub_attr.is_some() {
            return Err(format!("'{word}[…]': a value path names an attribute"));
        }
        let (mut filter, mut height) = self.bracket()?;
        if let Some(sub) = self.dotted_sub_attr() {
            let tail = self.comparison(AttrPath::new(sub))?;
            filter = Filter::And(Box::new(filter), Box::new(tail));
            height += 1;
        }
        node(
            Filter::ValuePath {
                attr: path,
                filter: Box::new(filter),
            },
            height + 1,
        )
    }

    /// `"[" valFilter "]"`, the `[` being next.
    pub(super) fn bracket(&mut self) -> Result<(Filter, usize), String> {
        self.expect(Token::OpenBracket)?;
        self.enter()?;
        let inner = self.or_expr(true)?;
        self.expect(Token::CloseBracket)?;
        self.leave();
        Ok((inner.filter, inner.height))
    }

    /// `.subAttr` right after `]`, consumed when present.
    pub(super) fn dotted_sub_attr(&mut self) -> Option<String> {
        let sub = match self.tokens.peek() {
            Some(Token::Word(w)) => w.strip_prefix('.').filter(|s| path::is_attr_name(s))?,
            _ => return None,
        }
        .to_owned();
        self.tokens.next();
        Some(sub)
    }

    /// `pr`, or `compareOp compValue`, after a path.
    pub(super) fn comparison(&mut self, path: AttrPath) -> Result<Filter, String> {
        let op = match self.tokens.next() {
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("pr") => {
                return Ok(Filter::Present(path));
            }
            Some(Token::Word(w)) => {
                CompareOp::parse(&w).ok_or_else(|| format!("unknown operator '{w}'"))?
            }
            Some(t) => return Err(format!("expected an operator after '{path}', found {t}")),
            None => return Err(format!("expected an operator after '{path}'")),
        };
        let value = match self.tokens.next() {
            Some(Token::Str(s)) => Value::String(s),
            Some(Token::Word(w)) => bare_value(w),
            Some(t) => return Err(format!("expected a value after '{op}', found {t}")),
            None => return Err(format!("expected a value after '{path} {op}'")),
        };
        Ok(Filter::Compare { path, op, value })
    }
}

/// An unquoted value: `true`, `false`, `null` (any case), a JSON number, else the word as a
/// string (Entra's legacy `externalId eq jyoung`).
fn bare_value(word: String) -> Value {
    if word.eq_ignore_ascii_case("true") {
        Value::Bool(true)
    } else if word.eq_ignore_ascii_case("false") {
        Value::Bool(false)
    } else if word.eq_ignore_ascii_case("null") {
        Value::Null
    } else if let Ok(n) = serde_json::from_str::<serde_json::Number>(&word) {
        Value::Number(n)
    } else {
        Value::String(word)
    }
}

pub(super) fn parse_filter(s: &str) -> Result<Filter, String> {
    let mut parser = Parser::new(tokenize(s)?);
    if parser.tokens.peek().is_none() {
        return Err("empty filter".to_owned());
    }
    let filter = parser.or_expr(false)?.filter;
    parser.end()?;
    Ok(filter)
}

/// The PATCH path grammar `attrPath / valuePath [subAttr]` (RFC 7644 §3.5.2): the attribute, the
/// value filter and the sub-attribute after `]` (see [`crate::scim::patch::PatchPath`]); the
/// error is a detail message.
pub(in crate::scim) fn parse_value_path(
    s: &str,
) -> Result<(AttrPath, Option<Filter>, Option<String>), String> {
    let mut parser = Parser::new(tokenize(s)?);
    let attr = match parser.tokens.next() {
        Some(Token::Word(w)) => path::parse_attr_path(&w)?,
        Some(t) => return Err(format!("a path starts with an attribute name, not {t}")),
        None => return Err("empty path".to_owned()),
    };
    let mut filter = None;
    let mut sub_attr = None;
    if parser.tokens.peek() == Some(&Token::OpenBracket) {
        if attr.sub_attr.is_some() {
            return Err(format!("'{attr}[…]': a value path names an attribute"));
        }
        filter = Some(parser.bracket()?.0);
        sub_attr = parser.dotted_sub_attr();
    }
    parser.end()?;
    Ok((attr, filter, sub_attr))
}
