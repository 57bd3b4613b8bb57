//! The policy format: a table of broken policies with their line:column and message, the
//! canonical form and digest, and the reference evaluator on the example policy.

use healthcode_circuits::field;
use healthcode_circuits::policy::expr::{Canonical, MAX_CONDITIONS, MAX_NESTING, MAX_TEXT_NESTING};
use healthcode_circuits::policy::{
    evaluate, Colour, Policy, DEFAULT_HEAD_GRACE, DEFAULT_MAX_EVENT_AHEAD, DEFAULT_MAX_EVENT_BEHIND,
    DEFAULT_MAX_INDEX_CASE_AGE, DEFAULT_MAX_RETRACTION_AGE, MAX_POLICY_CONDITIONS,
};

const EXAMPLE: &str = include_str!("../../policies/henan-2022.toml");
const HEAD: &str = "id = \"p\"\nversion = 1\nmax_root_age = \"6h\"\nmax_code_age = \"5m\"\nevents = [\"pos\", \"neg\"]\ndefault = \"green\"\n";

fn with_rule(when: &str) -> String {
    format!("{HEAD}[[rules]]\ncolour = \"red\"\nbecause = \"x\"\nwhen = \"{when}\"\n")
}

#[test]
fn broken_policies_report_line_and_column() {
    let rule_line = 10; // `when` of the rule appended by `with_rule`
    let cases: Vec<(String, usize, usize, &str)> = vec![
        (String::new(), 1, 1, "empty"),
        ("# only a comment\n\n".into(), 1, 1, "empty"),
        ("id = \n".into(), 1, 6, "string"),
        (HEAD.replace("version = 1", "version = 0"), 2, 11, "positive integer"),
        (HEAD.replace("version = 1", "version = -3"), 2, 11, "positive integer"),
        (HEAD.replace("\"6h\"", "\"6x\""), 3, 16, "unknown duration unit"),
        (HEAD.replace("\"6h\"", "\"h\""), 3, 16, "invalid duration"),
        (HEAD.replace("\"6h\"", "\"6\""), 3, 16, "needs a unit"),
        (HEAD.replace("\"6h\"", "\"0s\""), 3, 16, "longer than 0s"),
        (HEAD.replace("\"6h\"", "\"99999999999999999999999d\""), 3, 16, "too long"),
        (HEAD.replace("\"6h\"", "\"12725830d\""), 3, 16, "too long"),
        (HEAD.replace("[\"pos\", \"neg\"]", "[\"pos\", \"pos\"]"), 5, 18, "duplicate event `pos`"),
        (HEAD.replace("[\"pos\", \"neg\"]", "[]"), 5, 10, "at least one"),
        (HEAD.replace("[\"pos\", \"neg\"]", "[\"pos\", \"Neg\"]"), 5, 18, "lower-case"),
        (HEAD.replace("[\"pos\", \"neg\"]", "[\"now\"]"), 5, 11, "reserved"),
        (HEAD.replace("\"green\"", "\"blue\""), 6, 11, "unknown colour `blue`"),
        (HEAD.replace("default = \"green\"\n", ""), 1, 1, "missing field `default`"),
        (format!("{HEAD}colour_scheme = 1\n"), 7, 1, "unknown field"),
        (
            format!("{HEAD}[[rules]]\ncolour = \"purple\"\nbecause = \"x\"\nwhen = \"never(pos)\"\n"),
            8,
            10,
            "unknown colour",
        ),
        (
            format!("{HEAD}[[rules]]\ncolour = \"red\"\nbecause = \" \"\nwhen = \"never(pos)\"\n"),
            9,
            11,
            "explain",
        ),
        (with_rule(""), rule_line, 9, "empty condition"),
        (with_rule("within(pos, 14d) && within(flu, 1d)"), rule_line, 36, "unknown event `flu`"),
        (with_rule("within(pos, 14)"), rule_line, 21, "needs a unit"),
        (with_rule("within(pos, 14y)"), rule_line, 21, "unknown duration unit `y`"),
        (with_rule("within(pos 14d)"), rule_line, 20, "expected `,`"),
        (with_rule("within(pos, 14d"), rule_line, 24, "`)` closing"),
        (with_rule("pos > "), rule_line, 15, "expected `now` or an event name"),
        (with_rule("pos"), rule_line, 12, "expected a comparison"),
        (with_rule("pos - 1d < now"), rule_line, 13, "`-` is not supported"),
        (with_rule("pos < now & neg < now"), rule_line, 19, "did you mean `&&`"),
        (with_rule("pos = now"), rule_line, 13, "did you mean `==`"),
        (with_rule("(never(pos)"), rule_line, 20, "expected `)`"),
        (with_rule("never(pos))"), rule_line, 19, "expected `&&`, `||` or the end"),
        (with_rule("never(pos) never(neg)"), rule_line, 20, "expected `&&`"),
        (with_rule("now < pos + 1099511627776s"), rule_line, 21, "too long"),
        (with_rule("within(now, 1d)"), rule_line, 16, "unknown event `now`"),
        (with_rule("never(pos) @ 1"), rule_line, 20, "unexpected character `@`"),
        (with_rule("within(1d, pos)"), rule_line, 16, "expected an event name"),
        (with_rule("!"), rule_line, 10, "expected a condition"),
    ];
    for (src, line, column, message) in cases {
        let err = Policy::parse(&src).expect_err(&src);
        assert_eq!((err.line, err.column), (line, column), "{src}\n→ {err}");
        assert!(err.message.contains(message), "{src}\n→ {err}\n(expected `{message}`)");
        assert!(err.to_string().starts_with(&format!("{line}:{column}: ")));
    }
}

/// A hostile policy must not overflow the stack of the tools that read it (the auditor's included):
/// nesting and size are bounded and refused as ordinary errors at the offending column.
#[test]
fn deep_or_long_conditions_are_refused_at_their_column() {
    let rule_line = 10;
    let nested = |n: usize| format!("{}within(pos, 1d){}", "(".repeat(n), ")".repeat(n));
    let nots = |n: usize| format!("{}never(pos)", "!".repeat(n));
    let chain = |n: usize| vec!["never(pos)"; n].join(" && ");
    // `n` groups of eight conditions: wide but shallow (depth n - 1 + 1 + 7).
    let groups = |n: usize| vec![format!("({})", chain(8)); n].join(" && ");
    // At the limit: accepted, and the canonical text (a pair of parentheses per operator) too.
    for when in
        [nested(MAX_TEXT_NESTING), nots(MAX_NESTING), chain(MAX_NESTING + 1), groups(MAX_CONDITIONS / 8)]
    {
        let p = Policy::parse(&with_rule(&when)).expect("at the limit");
        let canonical = Canonical { expr: &p.rules[0].when, events: &p.events }.to_string();
        let again = Policy::parse(&with_rule(&canonical)).expect("the canonical text parses");
        assert_eq!(again.rules[0].when, p.rules[0].when);
    }
    // One past it, and the reproductions (10,000 parentheses, 50,000 `!`).
    let when_col = 9; // `when = "` is 8 bytes; the condition starts at column 9
    for (when, column, message) in [
        (nested(MAX_TEXT_NESTING + 1), when_col + MAX_TEXT_NESTING, "nests `(` and `!` more than 128 deep"),
        (nested(10_000), when_col + MAX_TEXT_NESTING, "more than 128 deep"),
        (nots(50_000), when_col + MAX_TEXT_NESTING, "more than 128 deep"),
        // 65 negations: the outermost makes the tree 65 deep.
        (nots(MAX_NESTING + 1), when_col, "nests operators more than 64 deep"),
        // The 65th `&&` of a chain makes the tree 65 deep.
        (chain(MAX_NESTING + 2), when_col + (MAX_NESTING + 1) * 14 - 3, "nests operators more than 64 deep"),
        (chain(100_000), when_col + (MAX_NESTING + 1) * 14 - 3, "nests operators more than 64 deep"),
        // The 257th condition, in the 33rd group of eight.
        (
            groups(MAX_CONDITIONS / 8 + 1),
            when_col + 32 * (8 * 14 - 4 + 2 + 4) + 1,
            "more than 256 conditions",
        ),
    ] {
        let err = Policy::parse(&with_rule(&when)).expect_err("refused");
        assert_eq!((err.line, err.column), (rule_line, column), "{err}");
        assert!(err.message.contains(message), "{err}");
    }
}

/// Legal rules add up: a policy of many long rules compiled to 2.3 million constraints (1.9 GB)
/// before; the rules together may combine at most `MAX_POLICY_CONDITIONS` conditions.
#[test]
fn the_rules_together_are_bounded() {
    let per_rule = MAX_CONDITIONS;
    let groups = vec![format!("({})", ["never(pos)"; 8].join(" && ")); per_rule / 8].join(" && ");
    let rule = |n: usize| {
        let when = if n == 1 { "never(pos)".to_string() } else { groups.clone() };
        format!("[[rules]]\ncolour = \"red\"\nbecause = \"x\"\nwhen = \"{when}\"\n")
    };
    let rules = MAX_POLICY_CONDITIONS / per_rule;
    let at_limit = format!("{HEAD}{}", rule(per_rule).repeat(rules));
    assert_eq!(Policy::parse(&at_limit).expect("at the limit").rules.len(), rules);
    let over = format!("{at_limit}{}", rule(1));
    let err = Policy::parse(&over).expect_err("one condition too many");
    assert!(err.message.contains("more than 1024 conditions in all"), "{err}");
    assert_eq!(err.line, 6 + 4 * (rules + 1), "{err}"); // the `when` line of the extra rule
}

#[test]
fn longest_duration_is_accepted() {
    let p = Policy::parse(&with_rule("now < pos + 1099511627775s")).unwrap();
    assert_eq!(p.rules.len(), 1);
}

#[test]
fn digest_ignores_formatting_but_not_meaning_or_order() {
    let p = Policy::parse(EXAMPLE).unwrap();
    let reformatted = EXAMPLE
        .replace("# ", "#   changed comment ")
        .replace(" = ", "   =   ")
        .replace("14d", "336h")
        .replace("\"6h\"", "'21600s'")
        .replace("&& !(", "&&!(");
    let q = Policy::parse(&reformatted).unwrap();
    assert_eq!(p, q);
    assert_eq!(p.canonical(), q.canonical());
    assert_eq!(p.digest(), q.digest());

    let mut swapped = p.clone();
    swapped.rules.swap(1, 2);
    assert_ne!(swapped.digest(), p.digest(), "rule order is meaning");
    let edited =
        Policy::parse(&EXAMPLE.replace("within(close_contact, 14d)", "within(close_contact, 13d)")).unwrap();
    assert_ne!(edited.digest(), p.digest());
    let retitled = Policy::parse(&EXAMPLE.replace("title = \"Illustrative", "title = \"Other")).unwrap();
    assert_ne!(retitled.digest(), p.digest(), "the published text is covered too");
    assert_eq!(
        hex::encode(p.digest()),
        "374c10293e738edab88b9b5781e2286b46c0bbac7151bea085b1ed39edfa4b82",
        "pinned: a change to the canonical encoding is a visible decision"
    );
}

#[test]
fn head_grace_is_published_and_in_the_digest() {
    let p = Policy::parse(EXAMPLE).unwrap();
    assert_eq!(p.head_grace, 600, "the example policy sets head_grace = \"10m\"");
    assert!(
        p.canonical().contains("\"max_code_age\":300,\"head_grace\":600,\"max_event_ahead\":300,\"max_event_behind\":2592000,\"max_merge_delay\":3600,\"max_index_case_age\":2592000,\"max_retraction_age\":2592000,\"events\""),
        "{}",
        p.canonical()
    );
    let longer = Policy::parse(&EXAMPLE.replace("head_grace = \"10m\"", "head_grace = \"1h\"")).unwrap();
    assert_eq!(longer.head_grace, 3_600);
    assert_ne!(longer.digest(), p.digest(), "a longer grace is another policy");
    // Unset: the documented default, written out in the canonical form (so in the digest).
    let unset = Policy::parse(&format!(
        "{HEAD}[[rules]]\ncolour = \"red\"\nbecause = \"b\"\nwhen = \"within(pos, 1d)\"\n"
    ))
    .unwrap();
    assert_eq!(unset.head_grace, DEFAULT_HEAD_GRACE);
    assert!(unset.canonical().contains(&format!("\"head_grace\":{DEFAULT_HEAD_GRACE}")));
    let none = Policy::parse(&EXAMPLE.replace("head_grace = \"10m\"", "head_grace = \"0s\"")).unwrap();
    assert_eq!(none.head_grace, 0, "no grace at all is a valid choice");
    let err = Policy::parse(&EXAMPLE.replace("head_grace = \"10m\"", "head_grace = \"10\"")).unwrap_err();
    assert_eq!((err.line, err.column), (8, 14), "{err}");
}

/// Issue 11, item 3: the event time window is published in the policy (and so in its digest),
/// not a private setting of the registry.
#[test]
fn the_event_window_is_published_and_in_the_digest() {
    let p = Policy::parse(EXAMPLE).unwrap();
    assert_eq!((p.max_event_ahead, p.max_event_behind), (300, 30 * 86_400));
    let wider =
        Policy::parse(&EXAMPLE.replace("max_event_ahead = \"5m\"", "max_event_ahead = \"14d\"")).unwrap();
    assert_eq!(wider.max_event_ahead, 14 * 86_400);
    assert_ne!(wider.digest(), p.digest(), "a wider window is another policy");
    let longer =
        Policy::parse(&EXAMPLE.replace("max_event_behind = \"30d\"", "max_event_behind = \"60d\"")).unwrap();
    assert_ne!(longer.digest(), p.digest());
    let unset = Policy::parse(&with_rule("within(pos, 1d)")).unwrap();
    assert_eq!(
        (unset.max_event_ahead, unset.max_event_behind),
        (DEFAULT_MAX_EVENT_AHEAD, DEFAULT_MAX_EVENT_BEHIND)
    );
    let err = Policy::parse(&EXAMPLE.replace("max_event_ahead = \"5m\"", "max_event_ahead = \"5 minutes\""))
        .unwrap_err();
    assert_eq!(err.line, 9, "{err}");
}

/// The bounds on how far back the registry's rules read (index cases, retractions) are published
/// like the event window: in the digest, with documented defaults, errors at their line.
#[test]
fn the_lookback_bounds_are_published_and_in_the_digest() {
    let p = Policy::parse(EXAMPLE).unwrap();
    assert_eq!((p.max_index_case_age, p.max_retraction_age), (30 * 86_400, 30 * 86_400));
    for key in ["max_index_case_age", "max_retraction_age"] {
        let longer =
            Policy::parse(&EXAMPLE.replace(&format!("{key} = \"30d\""), &format!("{key} = \"31d\"")))
                .unwrap();
        assert_ne!(longer.digest(), p.digest(), "{key}: a longer bound is another policy");
        let err = Policy::parse(&EXAMPLE.replace(&format!("{key} = \"30d\""), &format!("{key} = \"30\"")))
            .unwrap_err();
        assert!(err.line == 12 || err.line == 13, "{key}: {err}");
    }
    let unset = Policy::parse(&with_rule("within(pos, 1d)")).unwrap();
    assert_eq!(
        (unset.max_index_case_age, unset.max_retraction_age),
        (DEFAULT_MAX_INDEX_CASE_AGE, DEFAULT_MAX_RETRACTION_AGE)
    );
    assert!(unset.canonical().contains(&format!(
        "\"max_index_case_age\":{DEFAULT_MAX_INDEX_CASE_AGE},\"max_retraction_age\":{DEFAULT_MAX_RETRACTION_AGE}"
    )));
}

#[test]
fn example_policy_verdicts() {
    let p = Policy::parse(EXAMPLE).unwrap();
    let now = 1_655_164_800;
    let day = 86_400;
    let v = evaluate(&p, &[now - day, 0, 0, 0], now).unwrap();
    assert_eq!((v.colour, v.rule), (Colour::Red, Some(0)));
    assert!(v.because.unwrap().contains("positive test"));
    // Boundary of `within(positive_test, 14d)`: red until e + 14d - 1, green from e + 14d.
    assert_eq!(evaluate(&p, &[now - 14 * day + 1, 0, 0, 0], now).unwrap().colour, Colour::Red);
    assert_eq!(evaluate(&p, &[now - 14 * day, 0, 0, 0], now).unwrap().colour, Colour::Green);
    // Cleared by a negative test exactly 7 days after, not 7 days minus a second.
    assert_eq!(evaluate(&p, &[now - 8 * day, now - day, 0, 0], now).unwrap().colour, Colour::Green);
    assert_eq!(evaluate(&p, &[now - 8 * day, now - day - 1, 0, 0], now).unwrap().colour, Colour::Red);
    let v = evaluate(&p, &[0, 0, 0, now - day], now).unwrap();
    assert_eq!((v.colour, v.rule), (Colour::Yellow, Some(2)));
    let v = evaluate(&p, &[0, now - day, 0, 0], now).unwrap();
    assert_eq!((v.colour, v.rule, v.because), (Colour::Green, None, None));
    assert!(evaluate(&p, &[0, 0, 0], now).is_err(), "wrong arity");
    assert!(evaluate(&p, &[0, 0, 0, 0], 1 << 40).is_err(), "now out of range");
}

/// docs/soundness.md §3 and §6: byte parsers refuse aliased (x + p) and non-canonical encodings.
#[test]
fn field_decoders_refuse_non_canonical_encodings() {
    use ark_bn254::Fr;
    use ark_ff::{BigInteger, PrimeField};
    for x in [Fr::from(0u64), Fr::from(5u64), -Fr::from(1u64)] {
        let bytes = field::to_bytes(&x);
        assert_eq!(field::from_bytes(&bytes).unwrap(), x);
        assert_eq!(field::from_hex(&field::to_hex(&x)).unwrap(), x);
        let mut aliased = x.into_bigint();
        if !aliased.add_with_carry(&Fr::MODULUS) {
            let alias_bytes = aliased.to_bytes_be();
            assert_eq!(field::from_bytes(&alias_bytes), Err(field::FieldError::NonCanonical));
            assert_eq!(field::from_hex(&hex::encode(alias_bytes)), Err(field::FieldError::NonCanonical));
        }
    }
    assert_eq!(field::from_bytes(&[0xff; 32]), Err(field::FieldError::NonCanonical));
    assert_eq!(field::from_bytes(&[0; 31]), Err(field::FieldError::Length(31)));
    assert_eq!(field::from_bytes(&[0; 33]), Err(field::FieldError::Length(33)));
    assert!(field::from_hex("0xzz").is_err());
}
