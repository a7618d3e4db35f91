//! `lifesync normalize` as a process: the real binary, with no configuration at all, reads
//! JSON Lines on stdin and writes one line per input line on stdout — the normalized item or
//! an error with the line's number — and exits 1 when some line was bad, 0 otherwise.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

/// What `lifesync normalize` did with its input.
struct Normalized {
    code: i32,
    /// stdout, one JSON value per line.
    out: Vec<Value>,
    err: String,
}

fn normalize(input: &[u8]) -> Normalized {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lifesync"))
        .arg("normalize")
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        stdin.write_all(&input).unwrap();
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    Normalized {
        code: out.status.code().unwrap(),
        out: lines,
        err: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn normalizes_a_sample_of_the_held_out_corpus() {
    let corpus = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/normalizer/tests/fixtures/heldout/emails.jsonl"
    ))
    .unwrap();
    let mut input = String::new();
    let mut want = Vec::new();
    for (i, l) in corpus.lines().step_by(9).enumerate() {
        let ex: Value = serde_json::from_str(l).unwrap();
        let mut item = json!({"kind": "email", "id": format!("m{i}")});
        for k in [
            "subject",
            "sender",
            "snippet",
            "html",
            "labels",
            "headers",
            "inference_classification",
        ] {
            if let Some(v) = ex.get(k) {
                item[k] = v.clone();
            }
        }
        input.push_str(&item.to_string());
        input.push('\n');
        want.push(ex["category"].as_str().unwrap().to_string());
    }
    let Normalized { code, out, err } = normalize(input.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.len(), want.len());
    assert!(
        err.contains(&format!("{} items, 0 bad lines", want.len())),
        "{err}"
    );
    let right = out
        .iter()
        .zip(&want)
        .filter(|(o, w)| o["category"].as_str() == Some(w.as_str()))
        .count();
    assert!(right * 100 >= want.len() * 95, "{right}/{}", want.len());
    for (i, o) in out.iter().enumerate() {
        assert_eq!(o["line"], i + 1);
        assert_eq!(o["id"], format!("m{i}"));
        assert_eq!(o["kind"], "email");
        assert_eq!(o["is_event"], o["event"].is_object());
        assert!(!o["sender_domain"].as_str().unwrap_or("").contains('@'));
    }
}

#[test]
fn pii_is_replaced_and_bad_lines_are_numbered() {
    let input = concat!(
        r#"{"kind":"post","text":"Call +44 20 7946 0958, mail jane.doe@example.com, IBAN DE89 3704 0044 0532 0130 00, order 009-1431457-9205292"}"#,
        "\n",
        "{\"kind\":\"post\",\n",
        "\n",
        r##"{"kind":"media","text":"#Sunset at the beach @Anna","hashtags":["Beach"]}"##,
        "\n",
        r#"{"kind":"video","text":"x"}"#,
        "\n",
        "\u{0}\u{1}garbage\n",
        r#"{"kind":"email","subject":"【JAL国内線】ご予約内容のお知らせ","sender":"JAL <info@jal.com>","snippet":"ご予約番号：NEMR63 3月4日 JL 123便 HND→CTS"}"#,
    );
    let Normalized { code, out, err } = normalize(input.as_bytes());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("3 items, 3 bad lines"), "{err}");
    assert_eq!(out.len(), 6);
    assert_eq!(out[0]["line"], 1);
    assert_eq!(
        out[0]["text"],
        "Call [phone], mail [email], IBAN [iban], order 009-1431457-9205292"
    );
    assert_eq!(out[1]["line"], 2);
    assert_eq!(out[1]["error"], "invalid_json");
    assert_eq!(out[2]["line"], 4);
    assert_eq!(out[2]["hashtags"], json!(["beach", "sunset"]));
    assert_eq!(out[2]["mentions"], json!(["anna"]));
    assert_eq!(out[3]["error"], "invalid_kind");
    assert_eq!(out[4]["line"], 6);
    assert_eq!(out[4]["error"], "invalid_json");
    assert_eq!(out[5]["line"], 7);
    assert_eq!(out[5]["category"], "TRAVEL_FLIGHT");
    assert_eq!(out[5]["event"]["confirmation_code"], "NEMR63");
    let all = out.iter().map(Value::to_string).collect::<String>();
    assert!(!all.contains("jane.doe") && !all.contains("7946"), "{all}");
}

#[test]
fn empty_input_and_a_closed_reader() {
    let Normalized { code, out, .. } = normalize(b"");
    assert_eq!((code, out.len()), (0, 0));
    // Many lines, stdout read to the end: every line answered, in order.
    let many: String = (0..5000)
        .map(|i| format!("{{\"kind\":\"post\",\"text\":\"post {i} #n{i}\"}}\n"))
        .collect();
    let Normalized { code, out, .. } = normalize(many.as_bytes());
    assert_eq!(code, 0);
    assert_eq!(out.len(), 5000);
    assert_eq!(out[4999]["hashtags"], json!(["n4999"]));
}
