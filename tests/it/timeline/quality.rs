//! The builder measured on the labelled fixture (`fixture.rs`: five people, one year each):
//! precision and recall of trips and of events, printed, and held at ≥ 0.9 each. A built entry
//! matches an expected one when its type is the same, its start and end are within a day of
//! the expected ones, and at least 80 % of the items of each are in the other.

use std::collections::HashSet;

use lifesync::timeline::{build, Entry};
use uuid::Uuid;

use super::fixture::{people, Expected};

fn matches(e: &Entry, x: &Expected) -> bool {
    let day = chrono::Duration::hours(24);
    let items: HashSet<Uuid> = e.items.iter().map(|(id, _)| *id).collect();
    let common = items.intersection(&x.items).count() as f64;
    e.entry_type.as_str() == x.entry_type
        && (e.start - x.start).abs() <= day
        && (e.end - x.end).abs() <= day
        && common >= 0.8 * x.items.len() as f64
        && common >= 0.8 * items.len() as f64
}

#[test]
fn trips_and_events_have_precision_and_recall_of_at_least_0_9() {
    let mut totals = [(0usize, 0usize, 0usize, 0usize); 2]; // (built, built ok, expected, found)
    for person in people() {
        let built = build(person.name, &person.items, None);
        for (k, kind) in ["trip", "event"].into_iter().enumerate() {
            let got: Vec<&Entry> = built
                .entries
                .iter()
                .filter(|e| e.entry_type.as_str() == kind)
                .collect();
            let want: Vec<&Expected> = person
                .expected
                .iter()
                .filter(|x| x.entry_type == kind)
                .collect();
            let ok = got
                .iter()
                .filter(|e| want.iter().any(|x| matches(e, x)))
                .count();
            let found = want
                .iter()
                .filter(|x| got.iter().any(|e| matches(e, x)))
                .count();
            for x in want.iter().filter(|x| !got.iter().any(|e| matches(e, x))) {
                let near: Vec<String> = got
                    .iter()
                    .filter(|e| (e.start - x.start).abs() < chrono::Duration::days(3))
                    .map(|e| {
                        format!(
                            "{} {}..{} {} items {:?}",
                            e.title,
                            e.start,
                            e.end,
                            e.items.len(),
                            e.items.iter().filter(|(i, _)| !x.items.contains(i)).count()
                        )
                    })
                    .collect();
                println!(
                    "missed: {} {}..{} ({} items); built near it: {near:?}",
                    x.what,
                    x.start,
                    x.end,
                    x.items.len()
                );
            }
            for e in got.iter().filter(|e| !want.iter().any(|x| matches(e, x))) {
                println!(
                    "extra: {}: {} {}..{} ({} items, {})",
                    person.name,
                    e.title,
                    e.start,
                    e.end,
                    e.items.len(),
                    e.rule
                );
            }
            totals[k].0 += got.len();
            totals[k].1 += ok;
            totals[k].2 += want.len();
            totals[k].3 += found;
        }
    }
    let mut failed = Vec::new();
    for (k, kind) in ["trip", "event"].into_iter().enumerate() {
        let (built, ok, expected, found) = totals[k];
        let precision = ok as f64 / built.max(1) as f64;
        let recall = found as f64 / expected.max(1) as f64;
        println!(
            "timeline quality: {kind}s precision={precision:.3} ({ok}/{built}) recall={recall:.3} ({found}/{expected})"
        );
        if precision < 0.9 || recall < 0.9 {
            failed.push(kind);
        }
    }
    assert!(failed.is_empty(), "below 0.9: {failed:?}");
}

#[test]
fn a_build_is_deterministic_and_titles_hold_no_item_text() {
    let person = people().remove(0);
    let a = build("u1", &person.items, None);
    let mut reversed = person.items.clone();
    reversed.reverse();
    let b = build("u1", &reversed, None);
    assert_eq!(
        a, b,
        "the same items in another order build the same timeline"
    );
    assert_ne!(
        a.entries[0].id,
        build("u2", &person.items, None).entries[0].id,
        "ids are per user"
    );
    for e in &a.entries {
        assert!(
            !e.title.contains("confirm") && !e.title.contains("view"),
            "{}",
            e.title
        );
        assert!((0.0..=1.0).contains(&e.confidence));
    }
}
