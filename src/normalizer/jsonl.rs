//! `lifesync normalize`: the normalizer as a tool. Reads JSON Lines (one raw item per line)
//! and writes, per line, the normalized item as lifesync would store it — so an operator can
//! check a sample before connecting real accounts, and compare the normalizer with other PII
//! tools on the same input. Pure: no configuration, database or network.
//!
//! Input, one object per line (unknown fields are ignored; blank lines are skipped):
//! - posts and captions: `{"kind": "post" | "media", "text": "…", "hashtags"?: [..],
//!   "mentions"?: [..]}`;
//! - mail: `{"kind": "email", "subject"?, "sender"?, "snippet"?, "html"?, "labels"?: [..],
//!   "headers"?: {"List-Unsubscribe": "…", …}, "inference_classification"?: "focused" |
//!   "other"}` (`text` is accepted for `snippet`; without either, the visible text of `html`
//!   is the mail's text);
//! - any line may carry an `"id"` (string or number), echoed back to match output to input.
//!
//! Output, one object per input line, in order: `{"line", "id"?, "kind", "text", "category",
//! "is_event", "event", "sender_domain", "mentions", "hashtags", "dates", "content_hash"}` —
//! the stored `text` (for mail `subject — snippet`, sanitized), `event` as stored
//! (`{type, start, time_zone, location, confirmation_code}`, `start` in RFC 3339 with its UTC
//! offset when known), the hash in hex. A line that
//! cannot be read gives `{"line", "error", "message"}` instead, with a stable `error` code
//! (`invalid_utf8`, `line_too_long`, `invalid_json`, `not_an_object`, `missing_field`,
//! `invalid_field`, `invalid_kind`, `internal_error`) and a message that never repeats the
//! input. Lines are read up to [`MAX_LINE`] bytes; nothing in the input stops the run.

use std::io::{self, BufRead, Write};

use chrono::DateTime;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{domain::ItemKind, providers::RawItem};

/// The longest line read (16 MiB: an email's HTML body fits).
pub const MAX_LINE: usize = 16 << 20;

/// What a run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub items: usize,
    pub errors: usize,
}

#[derive(Deserialize)]
struct Line {
    kind: Option<String>,
    id: Option<Value>,
    text: Option<String>,
    snippet: Option<String>,
    subject: Option<String>,
    sender: Option<String>,
    html: Option<String>,
    #[serde(default)]
    hashtags: Vec<String>,
    #[serde(default)]
    mentions: Vec<String>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    headers: serde_json::Map<String, Value>,
    inference_classification: Option<String>,
}

/// A bad line: its stable code and a message that does not quote the input.
struct Bad(&'static str, String);

/// Normalizes every line of `input` onto `output`; stops only when reading or writing fails.
pub fn run(mut input: impl BufRead, mut output: impl Write) -> io::Result<Summary> {
    let mut summary = Summary::default();
    let mut buf = Vec::new();
    let mut number = 0usize;
    loop {
        buf.clear();
        let (read, truncated) = read_line(&mut input, &mut buf)?;
        if read == 0 {
            break;
        }
        number += 1;
        let result = if truncated {
            Err(Bad(
                "line_too_long",
                format!("the line is longer than {MAX_LINE} bytes"),
            ))
        } else {
            match std::str::from_utf8(&buf) {
                Err(e) => Err(Bad(
                    "invalid_utf8",
                    format!("invalid UTF-8 at byte {}", e.valid_up_to()),
                )),
                Ok(s) if s.trim().is_empty() => continue,
                Ok(s) => one(s.trim_end_matches(['\n', '\r'])),
            }
        };
        let out = match result {
            Ok(mut v) => {
                summary.items += 1;
                v["line"] = json!(number);
                v
            }
            Err(Bad(code, message)) => {
                summary.errors += 1;
                json!({"line": number, "error": code, "message": message})
            }
        };
        serde_json::to_writer(&mut output, &out)?;
        output.write_all(b"\n")?;
    }
    output.flush()?;
    Ok(summary)
}

/// Reads one line into `buf`, keeping at most [`MAX_LINE`] bytes (the rest of a longer line
/// is consumed and dropped). Returns the bytes consumed and whether the line was cut.
fn read_line(input: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<(usize, bool)> {
    let mut consumed = 0;
    let mut truncated = false;
    loop {
        let chunk = match input.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok((consumed, truncated));
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = MAX_LINE.saturating_sub(buf.len());
        if take > room {
            truncated = true;
        }
        buf.extend_from_slice(&chunk[..take.min(room)]);
        input.consume(take);
        consumed += take;
        if done {
            return Ok((consumed, truncated));
        }
    }
}

fn one(line: &str) -> Result<Value, Bad> {
    let v: Value = serde_json::from_str(line).map_err(|e| {
        Bad(
            "invalid_json",
            format!(
                "not valid JSON ({:?} error at column {})",
                e.classify(),
                e.column()
            ),
        )
    })?;
    if !v.is_object() {
        return Err(Bad("not_an_object", "a line must be a JSON object".into()));
    }
    check_types(v.as_object().expect("checked above"))?;
    let l: Line = serde_json::from_value(v)
        .map_err(|_| Bad("invalid_field", "a field has the wrong type".into()))?;
    let kind = match l.kind.as_deref() {
        None => return Err(Bad("missing_field", "`kind` is required".into())),
        Some("post") => ItemKind::Post,
        Some("media") => ItemKind::Media,
        Some("email") => ItemKind::Email,
        Some(_) => {
            return Err(Bad(
                "invalid_kind",
                "`kind` must be post, media or email".into(),
            ))
        }
    };
    let mut headers = Vec::with_capacity(l.headers.len());
    for (name, value) in &l.headers {
        match value.as_str() {
            Some(v) => headers.push((name.clone(), v.to_string())),
            None => return Err(Bad("invalid_field", "header values must be strings".into())),
        }
    }
    let text = match kind {
        ItemKind::Email => l.snippet.or(l.text),
        _ => l.text,
    }
    .unwrap_or_default();
    let raw = RawItem {
        external_id: String::new(),
        kind,
        occurred_at: DateTime::UNIX_EPOCH,
        text,
        hashtags: l.hashtags,
        mentions: l.mentions,
        location: None,
        media_url: None,
        permalink: None,
        metrics: json!({}),
        subject: l.subject,
        sender: l.sender,
        html: l.html,
        mail: lifesync_normalizer::OwnedMailSignals {
            labels: l.labels,
            headers,
            inference_classification: l.inference_classification,
        },
    };
    // The link key is not part of the output, so no configured secret is needed for it.
    let links = super::LinkSecret::derive(&[0; 32]);
    let n = std::panic::catch_unwind(|| super::normalize(raw, &links)).map_err(|_| {
        Bad(
            "internal_error",
            "the normalizer failed on this line".into(),
        )
    })?;
    let mut out = json!({
        "kind": kind.as_str(),
        "text": n.text,
        "category": n.category,
        "is_event": n.is_event,
        "event": n.event,
        "sender_domain": n.metrics.get("sender_domain"),
        "mentions": n.mentions,
        "hashtags": n.hashtags,
        "dates": n.dates,
        "content_hash": hex(&n.content_hash),
    });
    if let Some(id) = l.id.filter(|id| !id.is_null()) {
        out["id"] = id;
    }
    Ok(out)
}

/// The fields read and the JSON type each must have (null is always allowed).
const FIELDS: &[(&str, Shape)] = &[
    ("kind", Shape::Str),
    ("text", Shape::Str),
    ("snippet", Shape::Str),
    ("subject", Shape::Str),
    ("sender", Shape::Str),
    ("html", Shape::Str),
    ("inference_classification", Shape::Str),
    ("hashtags", Shape::Strings),
    ("mentions", Shape::Strings),
    ("labels", Shape::Strings),
    ("headers", Shape::Object),
    ("id", Shape::Id),
];

#[derive(Clone, Copy)]
enum Shape {
    Str,
    Strings,
    Object,
    Id,
}

/// Names the first known field whose value has the wrong JSON type.
fn check_types(o: &serde_json::Map<String, Value>) -> Result<(), Bad> {
    for &(name, shape) in FIELDS {
        let ok = match (o.get(name), shape) {
            (None | Some(Value::Null), _) => true,
            (Some(v), Shape::Str) => v.is_string(),
            (Some(Value::Array(a)), Shape::Strings) => a.iter().all(Value::is_string),
            (Some(v), Shape::Object) => v.is_object(),
            (Some(v), Shape::Id) => v.is_string() || v.is_number(),
            _ => false,
        };
        if !ok {
            return Err(Bad(
                "invalid_field",
                format!("field `{name}` has the wrong type"),
            ));
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &str) -> (Vec<Value>, Summary) {
        let mut out = Vec::new();
        let s = run(input.as_bytes(), &mut out).unwrap();
        let v = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (v, s)
    }

    #[test]
    fn items_and_errors_in_order() {
        let (v, s) = lines(concat!(
            r#"{"kind":"post","text":"call +1 415 555 0132 #Travel @bob","id":7}"#,
            "\n\n",
            "not json\n",
            r#"{"kind":"tweet","text":"x"}"#,
            "\n",
            r#"{"kind":"email","subject":"Your flight LH 401","sender":"Lufthansa <noreply@lufthansa.com>","snippet":"Booking code X7Y8Z9, FRA → JFK","labels":["CATEGORY_UPDATES"]}"#,
            "\n[1,2]\n",
            r#"{"text":"no kind"}"#,
            "\n",
            r#"{"kind":"post","text":5}"#
        ));
        assert_eq!(
            s,
            Summary {
                items: 2,
                errors: 5
            }
        );
        assert_eq!(v[0]["line"], 1);
        assert_eq!(v[0]["id"], 7);
        assert_eq!(v[0]["text"], "call [phone] #Travel @bob");
        assert_eq!(v[0]["hashtags"], json!(["travel"]));
        assert_eq!(v[0]["content_hash"].as_str().unwrap().len(), 64);
        assert_eq!(v[1]["line"], 3);
        assert_eq!(v[1]["error"], "invalid_json");
        assert_eq!(v[2]["error"], "invalid_kind");
        assert_eq!(v[3]["line"], 5);
        assert_eq!(v[3]["category"], "TRAVEL_FLIGHT");
        assert_eq!(v[3]["sender_domain"], "lufthansa.com");
        assert_eq!(v[3]["event"]["confirmation_code"], "X7Y8Z9");
        assert_eq!(v[4]["error"], "not_an_object");
        assert_eq!(v[5]["error"], "missing_field");
        assert_eq!(v[6]["error"], "invalid_field");
        assert_eq!(v[6]["message"], "field `text` has the wrong type");
    }

    #[test]
    fn a_mail_with_only_html_is_read_from_its_body_and_keeps_its_start_offset() {
        let (v, s) = lines(concat!(
            r#"{"kind":"email","subject":"Your reservation","sender":"OpenTable <no-reply@opentable.com>","html":"<html><head><title>OT</title></head><body><div itemscope itemtype='http://schema.org/FoodEstablishmentReservation'><meta itemprop=reservationNumber content=OT-1234><meta itemprop=startTime content='2027-02-14T19:30:00-08:00'><div itemprop=reservationFor itemscope itemtype='http://schema.org/FoodEstablishment'><span itemprop=name>Chez Panisse &amp; Co</span></div><p>Table for 2 &ndash; call (510) 548-5525</p></div></body></html>"}"#,
            "\n"
        ));
        assert_eq!(s.errors, 0);
        assert_eq!(v[0]["category"], "BOOKING");
        assert_eq!(
            v[0]["text"],
            "Your reservation — Chez Panisse & Co Table for 2 – call [phone]"
        );
        assert_eq!(
            v[0]["event"],
            json!({"type": "FoodEstablishmentReservation", "start": "2027-02-14T19:30:00-08:00",
                   "time_zone": null, "location": "Chez Panisse & Co",
                   "confirmation_code": "OT-1234"})
        );
    }

    #[test]
    fn hostile_lines_are_errors_not_crashes() {
        let mut input = b"\xff\xfe{\"kind\":\"post\"}\n".to_vec();
        input.extend(std::iter::repeat_n(b'a', MAX_LINE + 10));
        input.extend(b"\n{\"kind\":\"post\",\"text\":\"ok\"}");
        let mut out = Vec::new();
        let s = run(&input[..], &mut out).unwrap();
        assert_eq!(
            s,
            Summary {
                items: 1,
                errors: 2
            }
        );
        let v: Vec<Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(v[0]["error"], "invalid_utf8");
        assert_eq!(v[1]["error"], "line_too_long");
        assert_eq!(v[2]["line"], 3);
        assert_eq!(v[2]["text"], "ok");
    }

    #[test]
    fn errors_never_echo_the_input() {
        let (v, _) = lines(
            "{\"kind\":\"post\",\"text\":[\"jane@example.com\"]}\n{\"kind\":\"jane@example.com\"}\n{\"kind\": jane@example.com}\n",
        );
        for e in v {
            assert!(!e.to_string().contains("jane"), "{e}");
        }
    }
}
