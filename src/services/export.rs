//! The user's data as JSON Lines (GDPR Art. 20, `GET /api/v1/users/me/export`): one JSON
//! object per line, each with a `type`, in this order:
//!
//! ```text
//! {"type":"export","format":1,"user_id":"…","exported_at":"…"}
//! {"type":"data_source","id":"…","provider":"twitter","account_id":"…",…}   one per source
//! {"type":"sync_run","id":"…","data_source_id":"…","status":"succeeded",…}   one per run
//! {"type":"item","id":"…","kind":"post","text":"…",…,"deleted_at":null}      one per item
//! {"type":"end","data_sources":2,"sync_runs":5,"items":1234}
//! ```
//!
//! Everything comes from one read-only REPEATABLE READ snapshot, streamed row by row from
//! PostgreSQL (a cursor, never the whole set in memory) through a bounded channel, so a slow
//! client holds back the reads. Tokens, token metadata and sync cursors are never selected.
//! The `end` line lets a client tell a complete export from a cut one: a failure mid-way
//! aborts the response without it.

use futures_util::{Stream, StreamExt};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use tokio::sync::mpsc;

use crate::db::users;

/// Bytes gathered before a chunk goes out.
const CHUNK_BYTES: usize = 32 * 1024;
/// Chunks in flight between the reader and the client.
const CHANNEL_CHUNKS: usize = 4;

/// One line: the row's fields after its `type`.
#[derive(Serialize)]
struct Line<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    row: &'a T,
}

#[derive(Serialize)]
struct Header<'a> {
    format: u32,
    user_id: &'a str,
    exported_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Serialize, Default)]
struct Totals {
    data_sources: u64,
    sync_runs: u64,
    items: u64,
}

type Chunk = Result<Vec<u8>, std::io::Error>;

/// Opens the snapshot (so a database failure is still an error status) and returns the
/// streaming body.
pub async fn export(pool: &PgPool, user_id: &str) -> sqlx::Result<poem::Body> {
    let mut tx = users::begin_snapshot(pool).await?;
    let (out, rx) = mpsc::channel::<Chunk>(CHANNEL_CHUNKS);
    let user = user_id.to_string();
    tokio::spawn(async move {
        let mut w = Writer {
            out,
            buf: Vec::with_capacity(CHUNK_BYTES * 2),
        };
        match write_all(&mut tx, &user, &mut w).await {
            Ok(true) => {
                let _ = w.flush().await;
            }
            Ok(false) => {} // the client went away
            Err(e) => {
                tracing::error!(error = %e, "export failed mid-stream");
                let _ = w
                    .out
                    .send(Err(std::io::Error::other("export failed")))
                    .await;
            }
        }
        let _ = tx.rollback().await;
    });
    Ok(poem::Body::from_bytes_stream(
        tokio_stream::wrappers::ReceiverStream::new(rx),
    ))
}

struct Writer {
    out: mpsc::Sender<Chunk>,
    buf: Vec<u8>,
}

impl Writer {
    /// Adds a line; false when the client is gone.
    async fn line<T: Serialize>(&mut self, kind: &'static str, row: &T) -> bool {
        serde_json::to_writer(&mut self.buf, &Line { kind, row }).expect("rows serialize");
        self.buf.push(b'\n');
        if self.buf.len() >= CHUNK_BYTES {
            return self.flush().await;
        }
        true
    }

    async fn flush(&mut self) -> bool {
        if self.buf.is_empty() {
            return true;
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_BYTES * 2));
        self.out.send(Ok(chunk)).await.is_ok()
    }
}

/// Writes every line; Ok(false) when the client went away.
async fn write_all(conn: &mut PgConnection, user: &str, w: &mut Writer) -> sqlx::Result<bool> {
    let header = Header {
        format: 1,
        user_id: user,
        exported_at: chrono::Utc::now(),
    };
    if !w.line("export", &header).await {
        return Ok(false);
    }
    let mut totals = Totals::default();
    let Some(n) = copy(users::export_sources(&mut *conn, user), "data_source", w).await? else {
        return Ok(false);
    };
    totals.data_sources = n;
    let Some(n) = copy(users::export_runs(&mut *conn, user), "sync_run", w).await? else {
        return Ok(false);
    };
    totals.sync_runs = n;
    let Some(n) = copy(users::export_items(&mut *conn, user), "item", w).await? else {
        return Ok(false);
    };
    totals.items = n;
    Ok(w.line("end", &totals).await)
}

/// Copies a row stream as lines of `kind`; the count, None when the client went away.
async fn copy<T: Serialize>(
    mut rows: impl Stream<Item = sqlx::Result<T>> + Unpin,
    kind: &'static str,
    w: &mut Writer,
) -> sqlx::Result<Option<u64>> {
    let mut n = 0;
    while let Some(row) = rows.next().await {
        if !w.line(kind, &row?).await {
            return Ok(None);
        }
        n += 1;
    }
    Ok(Some(n))
}
