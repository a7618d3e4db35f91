//! What the mailbox says about a message besides its content ([`MailSignals`]): Gmail's
//! category labels, Outlook's Focused Inbox classification, and the headers of bulk mail.
//! Each is a hint, never a verdict: Gmail files some confirmations under Promotions and
//! airlines send their e-tickets with `List-Unsubscribe`, so these add points that content and
//! sender can outweigh.
//!
//! | signal | points |
//! | --- | --- |
//! | `CATEGORY_PROMOTIONS` | OTHER +3 |
//! | `CATEGORY_SOCIAL` | OTHER +3 |
//! | `CATEGORY_FORUMS` | OTHER +2 |
//! | `CATEGORY_UPDATES` (machine-sent notifications) | PERSONAL −2 |
//! | `CATEGORY_PERSONAL` (Gmail's Primary tab) | OTHER −2 |
//! | Outlook `inferenceClassification: other` | OTHER +2 |
//! | Outlook `inferenceClassification: focused` | OTHER −1 |
//! | `List-Unsubscribe` header | OTHER +2, PERSONAL −2, PROFESSIONAL −1 |
//! | `List-Id` header | OTHER +2 |
//! | `Precedence: bulk` / `list` / `junk` | OTHER +2 |

use crate::Category::{self, *};
use crate::MailSignals;

/// Calls `add(category, points)` for every signal the message carries.
pub(super) fn score(s: &MailSignals, mut add: impl FnMut(Category, i32)) {
    for l in s.labels {
        match l.as_str() {
            "CATEGORY_PROMOTIONS" | "CATEGORY_SOCIAL" => add(Other, 3),
            "CATEGORY_FORUMS" => add(Other, 2),
            "CATEGORY_UPDATES" => add(Personal, -2),
            "CATEGORY_PERSONAL" => add(Other, -2),
            _ => {}
        }
    }
    match s
        .inference_classification
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("other") => add(Other, 2),
        Some("focused") => add(Other, -1),
        _ => {}
    }
    for (name, value) in s.headers {
        if name.eq_ignore_ascii_case("list-unsubscribe") {
            add(Other, 2);
            add(Personal, -2);
            add(Professional, -1);
        } else {
            let bulk_precedence = name.eq_ignore_ascii_case("precedence")
                && matches!(
                    value.trim().to_ascii_lowercase().as_str(),
                    "bulk" | "list" | "junk"
                );
            if name.eq_ignore_ascii_case("list-id") || bulk_precedence {
                add(Other, 2);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_add_points() {
        let labels = vec!["INBOX".to_string(), "CATEGORY_PROMOTIONS".to_string()];
        let headers = vec![
            (
                "List-Unsubscribe".to_string(),
                "<https://x.example/u>".to_string(),
            ),
            ("Precedence".to_string(), "Bulk".to_string()),
        ];
        let mut got = Vec::new();
        score(
            &MailSignals {
                labels: &labels,
                headers: &headers,
                inference_classification: Some("Other"),
            },
            |c, p| got.push((c, p)),
        );
        let other: i32 = got
            .iter()
            .filter(|(c, _)| *c == Other)
            .map(|(_, p)| p)
            .sum();
        assert_eq!(other, 3 + 2 + 2 + 2);
        let mut none = 0;
        score(&MailSignals::NONE, |_, _| none += 1);
        assert_eq!(none, 0);
    }
}
