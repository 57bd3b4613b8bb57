//! Published policies: the TOML format of docs/protocol.md, validated with line/column errors, a
//! canonical form and its digest.

mod duration;
pub mod eval;
pub mod expr;

pub use duration::parse_duration;
pub use eval::{evaluate, StateError, Verdict};
pub use expr::{Atom, CmpOp, Expr, Term};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::ops::Range;
use toml::Spanned;

/// How many conditions all rules together may combine. Each costs up to ~90 constraints, so this
/// bounds the circuit a published policy compiles to (a 1 MB policy of legal rules compiled to 2.3
/// million constraints and 1.9 GB before).
pub const MAX_POLICY_CONDITIONS: usize = 1024;

/// At most this many event kinds: three leaf words of six 40-bit times each.
pub const MAX_EVENT_KINDS: usize = crate::hashes::STATE_WORDS * crate::state::TIMES_PER_WORD;

/// `head_grace` of a policy that does not set it: 10 minutes. The canonical form (and so the
/// digest) always carries the value, set or not.
pub const DEFAULT_HEAD_GRACE: u64 = 600;

/// `max_event_ahead` of a policy that does not set it: 5 minutes.
pub const DEFAULT_MAX_EVENT_AHEAD: u64 = 300;

/// `max_event_behind` of a policy that does not set it: 30 days.
pub const DEFAULT_MAX_EVENT_BEHIND: u64 = 30 * 86_400;

/// `max_merge_delay` of a policy that does not set it: 1 hour.
pub const DEFAULT_MAX_MERGE_DELAY: u64 = 3_600;

/// `max_index_case_age` of a policy that does not set it: 30 days.
pub const DEFAULT_MAX_INDEX_CASE_AGE: u64 = 30 * 86_400;

/// `max_retraction_age` of a policy that does not set it: 30 days.
pub const DEFAULT_MAX_RETRACTION_AGE: u64 = 30 * 86_400;

/// Domain prefix of the policy digest.
const DIGEST_DOMAIN: &[u8] = b"healthcode/policy/v1\n";

/// A code colour. The circuit's public `colour` input is [`Colour::code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    Green,
    Yellow,
    Red,
}

impl Colour {
    pub const ALL: [Colour; 3] = [Colour::Green, Colour::Yellow, Colour::Red];

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(c: u8) -> Option<Self> {
        Self::ALL.get(c as usize).copied()
    }

    pub fn name(self) -> &'static str {
        match self {
            Colour::Green => "green",
            Colour::Yellow => "yellow",
            Colour::Red => "red",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == s)
    }
}

impl fmt::Display for Colour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub colour: Colour,
    pub because: String,
    pub when: Expr,
}

/// A validated policy. Build it with [`Policy::parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub id: String,
    pub version: u64,
    pub title: String,
    /// Seconds: codes over an older registry head are rejected.
    pub max_root_age: u64,
    /// Seconds: codes whose `now` is older than this are rejected.
    pub max_code_age: u64,
    /// Seconds: once a checkpoint trusts a newer head, codes over an older head are accepted for
    /// this long after the newer head's `issued_at`, then refused (`superseded-head`).
    pub head_grace: u64,
    /// Seconds: how far after its acceptance by the registry an event may be dated (clock skew
    /// between lab and registry). Published, so the audit checks every logged event against it.
    pub max_event_ahead: u64,
    /// Seconds: how far before its acceptance an event may be dated (late lab reports).
    pub max_event_behind: u64,
    /// Seconds: the registry's maximum merge delay. Each accepted event gets a receipt signed by
    /// the registry promising a signed head that includes it within this delay.
    pub max_merge_delay: u64,
    /// Seconds: a contact is accepted only if its index case was accepted at most this long
    /// before it. With `max_event_behind` and `max_retraction_age`, this bounds how far back the
    /// registry's rules read stored events, so older months can be archived (`docs/scale.md`).
    pub max_index_case_age: u64,
    /// Seconds: an event can be retracted at most this long after its acceptance.
    pub max_retraction_age: u64,
    pub events: Vec<String>,
    pub default: Colour,
    /// First match wins.
    pub rules: Vec<Rule>,
}

/// A policy error with its 1-based line and column in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct PolicyError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn error_at(src: &str, offset: usize, message: impl Into<String>) -> PolicyError {
    let (line, column) = line_col(src, offset);
    PolicyError { line, column, message: message.into() }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    id: Spanned<String>,
    version: Spanned<i64>,
    #[serde(default)]
    title: Option<String>,
    max_root_age: Spanned<String>,
    max_code_age: Spanned<String>,
    #[serde(default)]
    head_grace: Option<Spanned<String>>,
    #[serde(default)]
    max_event_ahead: Option<Spanned<String>>,
    #[serde(default)]
    max_event_behind: Option<Spanned<String>>,
    #[serde(default)]
    max_merge_delay: Option<Spanned<String>>,
    #[serde(default)]
    max_index_case_age: Option<Spanned<String>>,
    #[serde(default)]
    max_retraction_age: Option<Spanned<String>>,
    events: Spanned<Vec<Spanned<String>>>,
    default: Spanned<String>,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    colour: Spanned<String>,
    because: Spanned<String>,
    when: Spanned<String>,
}

/// Where the text of a string value starts in the file, if its characters map one to one
/// (a plain `"…"` or `'…'` string without escapes); else where the value starts.
fn string_body(src: &str, span: &Range<usize>, value: &str) -> (usize, bool) {
    let raw = &src[span.clone()];
    for q in ["\"", "'"] {
        if raw.len() >= 2 && raw.starts_with(q) && raw.ends_with(q) && &raw[1..raw.len() - 1] == value {
            return (span.start + 1, true);
        }
    }
    (span.start, false)
}

fn is_identifier(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_lowercase() || ch == '_')
        && c.all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
}

const RESERVED: [&str; 3] = ["now", "within", "never"];

impl Policy {
    /// Parses and validates a policy file. Every error names its line and column.
    pub fn parse(src: &str) -> Result<Self, PolicyError> {
        let meaningful = src.lines().any(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        });
        if !meaningful {
            return Err(error_at(src, 0, "the policy file is empty"));
        }
        let raw: RawPolicy = toml::from_str(src).map_err(|e| {
            let at = e.span().map_or(0, |s| s.start);
            error_at(src, at, e.message().trim().to_string())
        })?;
        let at = |s: &Range<usize>, m: String| error_at(src, s.start, m);

        let id = raw.id.get_ref().trim().to_string();
        if id.is_empty() {
            return Err(at(&raw.id.span(), "`id` must not be empty".into()));
        }
        let version = u64::try_from(*raw.version.get_ref())
            .ok()
            .filter(|v| *v >= 1)
            .ok_or_else(|| at(&raw.version.span(), "`version` must be a positive integer".into()))?;

        let duration = |v: &Spanned<String>, name: &str| -> Result<u64, PolicyError> {
            let d = parse_duration(v.get_ref()).map_err(|m| at(&v.span(), m))?;
            if d == 0 {
                return Err(at(&v.span(), format!("`{name}` must be longer than 0s")));
            }
            Ok(d)
        };
        let max_root_age = duration(&raw.max_root_age, "max_root_age")?;
        let max_code_age = duration(&raw.max_code_age, "max_code_age")?;
        // 0 is allowed here: no grace at all, codes over a superseded head are refused at once.
        let optional = |v: &Option<Spanned<String>>, default: u64| match v {
            None => Ok(default),
            Some(v) => parse_duration(v.get_ref()).map_err(|m| at(&v.span(), m)),
        };
        let head_grace = optional(&raw.head_grace, DEFAULT_HEAD_GRACE)?;
        let max_event_ahead = optional(&raw.max_event_ahead, DEFAULT_MAX_EVENT_AHEAD)?;
        let max_event_behind = optional(&raw.max_event_behind, DEFAULT_MAX_EVENT_BEHIND)?;
        let max_merge_delay = optional(&raw.max_merge_delay, DEFAULT_MAX_MERGE_DELAY)?;
        let max_index_case_age = optional(&raw.max_index_case_age, DEFAULT_MAX_INDEX_CASE_AGE)?;
        let max_retraction_age = optional(&raw.max_retraction_age, DEFAULT_MAX_RETRACTION_AGE)?;

        let mut events: Vec<String> = Vec::new();
        if raw.events.get_ref().is_empty() {
            return Err(at(&raw.events.span(), "`events` must name at least one event kind".into()));
        }
        for e in raw.events.get_ref() {
            let name = e.get_ref();
            if !is_identifier(name) {
                return Err(at(&e.span(), format!("event name `{name}` must be lower-case letters, digits and `_`, starting with a letter or `_`")));
            }
            if RESERVED.contains(&name.as_str()) {
                return Err(at(&e.span(), format!("`{name}` is reserved and cannot name an event")));
            }
            if events.contains(name) {
                return Err(at(&e.span(), format!("duplicate event `{name}`")));
            }
            events.push(name.clone());
        }
        if events.len() > MAX_EVENT_KINDS {
            return Err(at(
                &raw.events.span(),
                format!("at most {MAX_EVENT_KINDS} event kinds are supported, got {}", events.len()),
            ));
        }

        let colour = |v: &Spanned<String>| {
            Colour::parse(v.get_ref()).ok_or_else(|| {
                at(&v.span(), format!("unknown colour `{}`: use green, yellow or red", v.get_ref()))
            })
        };
        let default = colour(&raw.default)?;

        let mut rules = Vec::with_capacity(raw.rules.len());
        let mut conditions = 0;
        for r in &raw.rules {
            let because = r.because.get_ref().trim().to_string();
            if because.is_empty() {
                return Err(at(&r.because.span(), "`because` must explain the rule".into()));
            }
            let (body, exact) = string_body(src, &r.when.span(), r.when.get_ref());
            let when = expr::parse(r.when.get_ref(), &events).map_err(|e| {
                let off = if exact { body + e.offset } else { body };
                error_at(src, off, format!("in `when`: {}", e.message))
            })?;
            conditions += when.conditions();
            if conditions > MAX_POLICY_CONDITIONS {
                return Err(at(
                    &r.when.span(),
                    format!(
                        "the rules combine more than {MAX_POLICY_CONDITIONS} conditions in all: the circuit would be too large to prove on a phone"
                    ),
                ));
            }
            rules.push(Rule { colour: colour(&r.colour)?, because, when });
        }

        Ok(Policy {
            id,
            version,
            title: raw.title.unwrap_or_default().trim().to_string(),
            max_root_age,
            max_code_age,
            head_grace,
            max_event_ahead,
            max_event_behind,
            max_merge_delay,
            max_index_case_age,
            max_retraction_age,
            events,
            default,
            rules,
        })
    }

    pub fn event_index(&self, name: &str) -> Option<usize> {
        self.events.iter().position(|e| e == name)
    }

    /// A state given by event names (a state file: `{"positive_test": 1655164800, …}`) as times
    /// in the policy's event order, 0 for the kinds it does not name.
    pub fn state_from_names(
        &self,
        named: &std::collections::BTreeMap<String, u64>,
    ) -> Result<Vec<u64>, String> {
        let mut state = vec![0u64; self.events.len()];
        for (name, &time) in named {
            let i = self.event_index(name).ok_or_else(|| {
                format!("unknown event `{name}` (the policy's events are: {})", self.events.join(", "))
            })?;
            state[i] = time;
        }
        Ok(state)
    }

    /// The canonical form: a JSON object with keys in this fixed order, durations in seconds and
    /// each `when` in [`expr::Canonical`] text. Comments, spacing, quoting and duration units of
    /// the file do not change it; the order of events and rules does (it changes the meaning or
    /// the leaf layout).
    ///
    /// `{"id":…,"version":…,"title":…,"max_root_age":…,"max_code_age":…,"head_grace":…,
    ///   "max_event_ahead":…,"max_event_behind":…,"max_merge_delay":…,"max_index_case_age":…,
    ///   "max_retraction_age":…,"events":[…],
    ///   "default":…,"rules":[{"colour":…,"because":…,"when":…},…]}`
    pub fn canonical(&self) -> String {
        let rules: Vec<serde_json::Value> = self
            .rules
            .iter()
            .map(|r| {
                serde_json::json!({
                    "colour": r.colour.name(),
                    "because": r.because,
                    "when": expr::Canonical { expr: &r.when, events: &self.events }.to_string(),
                })
            })
            .collect();
        // serde_json keeps insertion order only with `preserve_order`; build the text by hand so
        // the key order is part of this code, not of a feature flag.
        let s = |v: &str| serde_json::to_string(v).expect("string serialises");
        format!(
            "{{\"id\":{},\"version\":{},\"title\":{},\"max_root_age\":{},\"max_code_age\":{},\"head_grace\":{},\"max_event_ahead\":{},\"max_event_behind\":{},\"max_merge_delay\":{},\"max_index_case_age\":{},\"max_retraction_age\":{},\"events\":{},\"default\":{},\"rules\":[{}]}}",
            s(&self.id),
            self.version,
            s(&self.title),
            self.max_root_age,
            self.max_code_age,
            self.head_grace,
            self.max_event_ahead,
            self.max_event_behind,
            self.max_merge_delay,
            self.max_index_case_age,
            self.max_retraction_age,
            serde_json::to_string(&self.events).expect("strings serialise"),
            s(self.default.name()),
            rules
                .iter()
                .map(|r| format!("{{\"colour\":{},\"because\":{},\"when\":{}}}", r["colour"], r["because"], r["when"]))
                .collect::<Vec<_>>()
                .join(","),
        )
    }

    /// SHA-256 of `"healthcode/policy/v1\n"` followed by [`Self::canonical`].
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(DIGEST_DOMAIN);
        h.update(self.canonical().as_bytes());
        h.finalize().into()
    }
}
