//! Scores the normalizer against the labeled corpus in `tests/fixtures/normalizer/` (written by
//! `generate.py` there, labels from construction): PII precision and recall per type, email
//! categorization accuracy per category and overall, and event field accuracy. Fails below
//! PII recall 0.99 / precision 0.98 per type, or categorization accuracy 0.95.

use lifesync_normalizer::sanitize::{find_pii, PiiKind};
use lifesync_normalizer::{normalize, sanitize, Category, Input, Kind};
use serde_json::Value;
use std::collections::BTreeMap;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/normalizer");

fn lines(name: &str) -> Vec<Value> {
    let path = format!("{DIR}/{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path}: {e}: {l}")))
        .collect()
}

#[derive(Default)]
struct Counts {
    tp: usize,
    fp: usize,
    fn_: usize,
}

#[test]
fn pii_precision_and_recall() {
    let generated = lines("texts.jsonl");
    assert!(
        generated.len() >= 300,
        "texts.jsonl has {} examples",
        generated.len()
    );
    let handwritten = lines("texts_handwritten.jsonl");
    println!("== texts_handwritten.jsonl (hand-written, not tuned against)");
    score_pii(&handwritten, false);
    println!("== texts.jsonl + texts_handwritten.jsonl");
    let all: Vec<Value> = generated.into_iter().chain(handwritten).collect();
    score_pii(&all, true);
}

fn score_pii(corpus: &[Value], enforce: bool) {
    let kinds = [PiiKind::Email, PiiKind::Phone, PiiKind::Card, PiiKind::Ssn];
    let mut counts: BTreeMap<&str, Counts> = kinds
        .iter()
        .map(|k| (k.as_str(), Counts::default()))
        .collect();
    let mut errors = Vec::new();
    let mut leaks = Vec::new();
    for ex in corpus {
        let text = ex["text"].as_str().expect("text");
        let labels: Vec<(&str, &str)> = ex["pii"]
            .as_array()
            .expect("pii")
            .iter()
            .map(|p| {
                (
                    p["type"].as_str().expect("type"),
                    p["value"].as_str().expect("value"),
                )
            })
            .collect();
        let mut used = vec![false; labels.len()];
        for span in find_pii(text) {
            let found = &text[span.start..span.end];
            let hit = labels
                .iter()
                .enumerate()
                .find(|(i, (t, v))| !used[*i] && *t == span.kind.as_str() && *v == found);
            match hit {
                Some((i, _)) => {
                    used[i] = true;
                    counts.get_mut(span.kind.as_str()).expect("kind").tp += 1;
                }
                None => {
                    counts.get_mut(span.kind.as_str()).expect("kind").fp += 1;
                    errors.push(format!("FP {}: {found:?} in {text:?}", span.kind.as_str()));
                }
            }
        }
        for (i, (t, v)) in labels.iter().enumerate() {
            if !used[i] {
                counts.get_mut(t).expect("labeled kind").fn_ += 1;
                errors.push(format!("FN {t}: {v:?} in {text:?}"));
            }
        }
        let clean = sanitize(text);
        for (_, v) in &labels {
            if clean.contains(v) {
                leaks.push(format!("{v:?} survives in {clean:?}"));
            }
        }
    }
    for e in errors.iter().take(40) {
        println!("{e}");
    }
    println!("PII over {} texts:", corpus.len());
    println!(
        "{:<6} {:>5} {:>4} {:>4} {:>9} {:>7}",
        "type", "tp", "fp", "fn", "precision", "recall"
    );
    let mut failed = Vec::new();
    for (kind, c) in &counts {
        let precision = c.tp as f64 / (c.tp + c.fp).max(1) as f64;
        let recall = c.tp as f64 / (c.tp + c.fn_).max(1) as f64;
        println!(
            "{kind:<6} {:>5} {:>4} {:>4} {precision:>9.4} {recall:>7.4}",
            c.tp, c.fp, c.fn_
        );
        if c.tp + c.fn_ == 0 {
            failed.push(format!("{kind}: no labeled examples"));
        }
        if precision < 0.98 || recall < 0.99 {
            failed.push(format!(
                "{kind}: precision {precision:.4}, recall {recall:.4}"
            ));
        }
    }
    for l in &leaks {
        println!("LEAK {l}");
    }
    if enforce {
        assert!(
            leaks.is_empty(),
            "raw PII left in sanitized text: {leaks:#?}"
        );
        assert!(failed.is_empty(), "below target: {failed:?}");
    }
}

#[test]
fn email_categories_and_events() {
    let generated = lines("emails.jsonl");
    assert!(
        generated.len() >= 300,
        "emails.jsonl has {} examples",
        generated.len()
    );
    let handwritten = lines("emails_handwritten.jsonl");
    println!("== emails_handwritten.jsonl (hand-written, not tuned against)");
    score_emails(&handwritten, false);
    println!("== emails.jsonl + emails_handwritten.jsonl");
    let all: Vec<Value> = generated.into_iter().chain(handwritten).collect();
    score_emails(&all, true);
}

fn score_emails(corpus: &[Value], enforce: bool) {
    let mut per: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut fields: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut errors = Vec::new();
    for ex in corpus {
        let s = |k: &str| ex.get(k).and_then(Value::as_str);
        let input = Input {
            kind: Kind::Email,
            text: s("snippet").unwrap_or(""),
            subject: s("subject"),
            sender: s("sender"),
            html: s("html"),
            hashtags: &[],
            mentions: &[],
        };
        let n = normalize(&input);
        let want = Category::parse(s("category").expect("category")).expect("known category");
        let got = n.category.expect("emails get a category");
        let e = per.entry(want.as_str()).or_default();
        e.1 += 1;
        if got == want {
            e.0 += 1;
        } else {
            errors.push(format!(
                "{} → {}: {:?} / {:?} / {:?}",
                want.as_str(),
                got.as_str(),
                input.sender,
                input.subject,
                input.text
            ));
        }
        assert_eq!(n.is_event, got.is_event());
        assert!(n.sender_domain.as_deref().is_some_and(|d| !d.contains('@')));
        if let Some(exp) = ex.get("event").and_then(Value::as_object) {
            let ev = n.event.as_ref();
            for (key, value) in exp {
                let want = value.as_str().expect("event fields are strings");
                let got = ev.and_then(|ev| match key.as_str() {
                    "type" => Some(ev.event_type.clone()),
                    "start" => ev.start.map(|d| d.format("%Y-%m-%dT%H:%M:%S").to_string()),
                    "location" => ev.location.clone(),
                    "confirmation_code" => ev.confirmation_code.clone(),
                    other => panic!("unknown event field {other}"),
                });
                let f = fields.entry(key_name(key)).or_default();
                f.1 += 1;
                if got.as_deref() == Some(want) {
                    f.0 += 1;
                } else {
                    errors.push(format!(
                        "event.{key}: want {want:?}, got {got:?} ({:?})",
                        input.subject
                    ));
                }
            }
        }
    }
    for e in errors.iter().take(40) {
        println!("{e}");
    }
    println!("Categorization over {} emails:", corpus.len());
    let (mut ok, mut all) = (0, 0);
    for c in Category::ALL {
        let (k, n) = per.get(c.as_str()).copied().unwrap_or_default();
        ok += k;
        all += n;
        println!(
            "{:<13} {k:>4}/{n:<4} {:.4}",
            c.as_str(),
            k as f64 / n.max(1) as f64
        );
    }
    let overall = ok as f64 / all.max(1) as f64;
    println!("{:<13} {ok:>4}/{all:<4} {overall:.4}", "overall");
    println!("Event fields:");
    for (k, (good, n)) in &fields {
        println!(
            "{k:<18} {good:>4}/{n:<4} {:.4}",
            *good as f64 / (*n).max(1) as f64
        );
    }
    let mut failed = Vec::new();
    for c in Category::ALL {
        let (k, n) = per.get(c.as_str()).copied().unwrap_or_default();
        if n == 0 || (k as f64 / n as f64) < 0.95 {
            failed.push(format!("{}: {k}/{n}", c.as_str()));
        }
    }
    if overall < 0.95 {
        failed.push(format!("overall {overall:.4}"));
    }
    for (k, (good, n)) in &fields {
        if (*good as f64 / (*n).max(1) as f64) < 0.95 {
            failed.push(format!("event.{k}: {good}/{n}"));
        }
    }
    if enforce {
        assert!(failed.is_empty(), "below target: {failed:?}");
    }
}

fn key_name(k: &str) -> &'static str {
    match k {
        "type" => "type",
        "start" => "start",
        "location" => "location",
        "confirmation_code" => "confirmation_code",
        _ => "other",
    }
}
