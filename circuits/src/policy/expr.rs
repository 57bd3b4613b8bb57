//! The `when` expression language: its syntax tree, parser and canonical printer.
//!
//! ```text
//! expr       := and ("||" and)*
//! and        := unary ("&&" unary)*
//! unary      := "!" unary | "(" expr ")" | "within(" event "," duration ")"
//!             | "never(" event ")" | term cmp term
//! term       := ("now" | event) ("+" duration)?
//! cmp        := "<" | "<=" | ">" | ">=" | "==" | "!="
//! duration   := digits ("s" | "m" | "h" | "d")
//! ```

use super::duration::parse_duration;
use std::fmt;

/// What a term's time is: `now` or the latest time of one event kind (an index into `events`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Atom {
    Now,
    Event(usize),
}

/// `atom + offset` (seconds; 0 when the policy wrote no offset).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Term {
    pub atom: Atom,
    pub offset: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CmpOp {
    pub const ALL: [CmpOp; 6] = [CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge, CmpOp::Eq, CmpOp::Ne];

    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// `e != 0 && now < e + d`.
    Within {
        event: usize,
        duration: u64,
    },
    /// `e == 0`.
    Never {
        event: usize,
    },
    Cmp {
        op: CmpOp,
        lhs: Term,
        rhs: Term,
    },
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// A parse error at a byte offset within the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub offset: usize,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Duration(u64),
    LParen,
    RParen,
    Comma,
    Plus,
    Not,
    And,
    Or,
    Cmp(CmpOp),
    End,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("`{s}`"),
        Tok::Duration(_) => "a duration".into(),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::Comma => "`,`".into(),
        Tok::Plus => "`+`".into(),
        Tok::Not => "`!`".into(),
        Tok::And => "`&&`".into(),
        Tok::Or => "`||`".into(),
        Tok::Cmp(op) => format!("`{}`", op.symbol()),
        Tok::End => "the end of the expression".into(),
    }
}

fn err<T>(offset: usize, message: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError { offset, message: message.into() })
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, ExprError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let two = |s: &str| src[i..].starts_with(s);
        let tok = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b',' => Tok::Comma,
            b'+' => Tok::Plus,
            _ if two("&&") => Tok::And,
            _ if two("||") => Tok::Or,
            _ if two("<=") => Tok::Cmp(CmpOp::Le),
            _ if two(">=") => Tok::Cmp(CmpOp::Ge),
            _ if two("==") => Tok::Cmp(CmpOp::Eq),
            _ if two("!=") => Tok::Cmp(CmpOp::Ne),
            b'<' => Tok::Cmp(CmpOp::Lt),
            b'>' => Tok::Cmp(CmpOp::Gt),
            b'!' => Tok::Not,
            b'0'..=b'9' => {
                while i < b.len() && b[i].is_ascii_alphanumeric() {
                    i += 1;
                }
                let d =
                    parse_duration(&src[start..i]).map_err(|m| ExprError { offset: start, message: m })?;
                out.push((Tok::Duration(d), start));
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                out.push((Tok::Ident(src[start..i].to_string()), start));
                continue;
            }
            b'-' => return err(i, "`-` is not supported: write the comparison the other way round with `+`"),
            b'&' | b'|' | b'=' => {
                return err(i, format!("unexpected `{}`; did you mean `{0}{0}`?", c as char))
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return err(i, format!("unexpected character `{ch}`"));
            }
        };
        i += match tok {
            Tok::And | Tok::Or | Tok::Cmp(CmpOp::Le | CmpOp::Ge | CmpOp::Eq | CmpOp::Ne) => 2,
            _ => 1,
        };
        out.push((tok, start));
    }
    out.push((Tok::End, src.len()));
    Ok(out)
}

/// Most operators (`!`, `&&`, `||`) one condition may use, and deepest its parentheses may nest.
/// The parser, the canonical printer, the evaluator, the circuit compiler and `Drop` all recurse
/// over the expression, so its depth must be bounded: a `when` of 30 000 `!` overflowed the stack.
/// The canonical text of an accepted condition has as many operators and nests its parentheses at
/// most that deep, so it is accepted too.
pub const MAX_OPERATORS: usize = 256;

struct Parser<'a> {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    events: &'a [String],
    /// Operators read so far, at most [`MAX_OPERATORS`].
    ops: usize,
    /// Parentheses open at the current token, at most [`MAX_OPERATORS`].
    nesting: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }
    fn offset(&self) -> usize {
        self.toks[self.pos].1
    }
    fn next(&mut self) -> (Tok, usize) {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn expect(&mut self, want: Tok, what: &str) -> Result<(), ExprError> {
        let (t, at) = self.next();
        if t == want {
            Ok(())
        } else {
            err(at, format!("expected {what}, found {}", describe(&t)))
        }
    }
    fn event(&mut self) -> Result<usize, ExprError> {
        match self.next() {
            (Tok::Ident(name), at) => self.lookup(&name, at),
            (t, at) => err(at, format!("expected an event name, found {}", describe(&t))),
        }
    }
    fn lookup(&self, name: &str, at: usize) -> Result<usize, ExprError> {
        self.events.iter().position(|e| e == name).ok_or_else(|| ExprError {
            offset: at,
            message: format!("unknown event `{name}` (the policy's events are: {})", self.events.join(", ")),
        })
    }
    /// Counts one operator at the current token, refusing one too many.
    fn operator(&mut self) -> Result<(), ExprError> {
        self.ops += 1;
        if self.ops > MAX_OPERATORS {
            return err(self.offset(), format!("the condition has more than {MAX_OPERATORS} operators"));
        }
        Ok(())
    }
    fn duration(&mut self) -> Result<u64, ExprError> {
        match self.next() {
            (Tok::Duration(d), _) => Ok(d),
            (t, at) => err(at, format!("expected a duration such as `14d`, found {}", describe(&t))),
        }
    }

    fn or(&mut self) -> Result<Expr, ExprError> {
        let mut lhs = self.and()?;
        while *self.peek() == Tok::Or {
            self.operator()?;
            self.next();
            lhs = Expr::Or(Box::new(lhs), Box::new(self.and()?));
        }
        Ok(lhs)
    }
    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut lhs = self.unary()?;
        while *self.peek() == Tok::And {
            self.operator()?;
            self.next();
            lhs = Expr::And(Box::new(lhs), Box::new(self.unary()?));
        }
        Ok(lhs)
    }
    fn unary(&mut self) -> Result<Expr, ExprError> {
        let at = self.offset();
        match self.peek().clone() {
            Tok::Not => {
                self.operator()?;
                self.next();
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Tok::LParen => {
                if self.nesting == MAX_OPERATORS {
                    return err(at, format!("parentheses nest more than {MAX_OPERATORS} deep"));
                }
                self.nesting += 1;
                self.next();
                let e = self.or()?;
                self.expect(Tok::RParen, "`)`")?;
                self.nesting -= 1;
                Ok(e)
            }
            Tok::Ident(name) if name == "within" => {
                self.next();
                self.expect(Tok::LParen, "`(` after `within`")?;
                let event = self.event()?;
                self.expect(Tok::Comma, "`,` in `within(event, duration)`")?;
                let duration = self.duration()?;
                self.expect(Tok::RParen, "`)` closing `within(`")?;
                Ok(Expr::Within { event, duration })
            }
            Tok::Ident(name) if name == "never" => {
                self.next();
                self.expect(Tok::LParen, "`(` after `never`")?;
                let event = self.event()?;
                self.expect(Tok::RParen, "`)` closing `never(`")?;
                Ok(Expr::Never { event })
            }
            Tok::Ident(_) => {
                let lhs = self.term()?;
                let (t, op_at) = self.next();
                let Tok::Cmp(op) = t else {
                    return err(
                        op_at,
                        format!(
                            "expected a comparison (`<`, `<=`, `>`, `>=`, `==`, `!=`) after a time, found {}",
                            describe(&t)
                        ),
                    );
                };
                let rhs = self.term()?;
                Ok(Expr::Cmp { op, lhs, rhs })
            }
            t => err(at, format!("expected a condition, found {}", describe(&t))),
        }
    }
    fn term(&mut self) -> Result<Term, ExprError> {
        let (t, at) = self.next();
        let atom = match t {
            Tok::Ident(name) if name == "now" => Atom::Now,
            Tok::Ident(name) if name == "within" || name == "never" => {
                return err(at, format!("`{name}(…)` is a condition, not a time"))
            }
            Tok::Ident(name) => Atom::Event(self.lookup(&name, at)?),
            t => return err(at, format!("expected `now` or an event name, found {}", describe(&t))),
        };
        let offset = if *self.peek() == Tok::Plus {
            self.next();
            self.duration()?
        } else {
            0
        };
        Ok(Term { atom, offset })
    }
}

/// Parses a `when` expression over the policy's `events`.
pub fn parse(src: &str, events: &[String]) -> Result<Expr, ExprError> {
    let toks = lex(src)?;
    let mut p = Parser { toks, pos: 0, events, ops: 0, nesting: 0 };
    if *p.peek() == Tok::End {
        return err(0, "empty condition");
    }
    let e = p.or()?;
    match p.next() {
        (Tok::End, _) => Ok(e),
        (t, at) => {
            err(at, format!("expected `&&`, `||` or the end of the condition, found {}", describe(&t)))
        }
    }
}

/// Canonical text: fully parenthesised binary operators, durations in seconds, single spaces.
/// Part of the policy digest, so it must never change for the same meaning.
pub struct Canonical<'a> {
    pub expr: &'a Expr,
    pub events: &'a [String],
}

impl<'a> fmt::Display for Canonical<'a> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ev = |i: usize| &self.events[i];
        let term = |t: &Term| -> String {
            let base = match t.atom {
                Atom::Now => "now".to_string(),
                Atom::Event(i) => ev(i).clone(),
            };
            if t.offset == 0 {
                base
            } else {
                format!("{base} + {}s", t.offset)
            }
        };
        let events = self.events;
        let sub = |e: &'a Expr| Canonical { expr: e, events };
        match self.expr {
            Expr::Within { event, duration } => write!(f, "within({}, {}s)", ev(*event), duration),
            Expr::Never { event } => write!(f, "never({})", ev(*event)),
            Expr::Cmp { op, lhs, rhs } => write!(f, "{} {} {}", term(lhs), op.symbol(), term(rhs)),
            Expr::Not(e) => write!(f, "!({})", sub(e)),
            Expr::And(a, b) => write!(f, "({} && {})", sub(a), sub(b)),
            Expr::Or(a, b) => write!(f, "({} || {})", sub(a), sub(b)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing the policy file: deep nesting or long chains overflowed the stack.
    #[test]
    fn operators_are_bounded() {
        let events = vec!["a".to_string()];
        let n = MAX_OPERATORS;
        let ok = [
            format!("{}a < now", "!".repeat(n)),
            format!("{}a < now{}", "(".repeat(n), ")".repeat(n)),
            vec!["a < now"; n + 1].join(" && "),
            vec!["a < now"; n + 1].join(" || "),
        ];
        for src in &ok {
            let e = parse(src, &events).unwrap();
            // The canonical text adds parentheses, not operators: it must be accepted too.
            let text = Canonical { expr: &e, events: &events }.to_string();
            assert_eq!(parse(&text, &events), Ok(e));
        }
        for big in [100_000, n + 1] {
            let deep = [
                format!("{}a < now", "!".repeat(big)),
                format!("{}a < now{}", "(".repeat(big), ")".repeat(big)),
                vec!["a < now"; big + 1].join(" && "),
                vec!["a < now"; big + 1].join(" || "),
            ];
            for src in &deep {
                let e = parse(src, &events).unwrap_err();
                assert!(e.message.contains("more than 256"), "{}", e.message);
            }
        }
    }
}
