//! Operators' scale-out (issue 18): the service through PgBouncer in transaction mode (a
//! `pgbouncer` of the test's own on a free port, in front of the shared PostgreSQL, the
//! statement cache off by `statement-cache-capacity=0` in the URL, every statement in a
//! transaction as `src/db/pinned.rs` runs it), and GET routes on a real streaming replica
//! (`DATABASE_REPLICA_URL`: `pg_basebackup` of a private primary) while the caller's own sync
//! status stays on the primary.

use crate::common::*;
use lifesync::providers::ProviderId;
use lifesync_jobs::RedisSettings;
use serde_json::Value;
use std::process::{Child, Command, Stdio};

/// A `pgbouncer` in transaction mode on a free port, in front of the shared PostgreSQL;
/// stopped (killed) on drop.
struct Bouncer {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Bouncer {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("pgbouncer-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir).unwrap();
        let base = url::Url::parse(&pg_base()).unwrap();
        let port = crate::common::servers::free_port();
        let users = dir.as_path().join("users.txt");
        std::fs::write(&users, format!("\"{}\" \"\"\n", base.username())).unwrap();
        let ini = dir.as_path().join("pgbouncer.ini");
        // Two server connections for every client: pages, relinks and reads share them, so a
        // statement that outlived its transaction would meet another client's connection.
        std::fs::write(
            &ini,
            format!(
                "[databases]\n* = host={} port={}\n[pgbouncer]\nlisten_addr = 127.0.0.1\n\
                 listen_port = {port}\nunix_socket_dir =\nauth_type = trust\nauth_file = {}\n\
                 pool_mode = transaction\nmax_client_conn = 100\ndefault_pool_size = 2\n\
                 ignore_startup_parameters = extra_float_digits,options\n",
                base.host_str().unwrap(),
                base.port().unwrap_or(5432),
                users.display()
            ),
        )
        .unwrap();
        let mut cmd = Command::new(which("pgbouncer"));
        // PgBouncer refuses to run as root: as root, it runs as `postgres`.
        if nix_is_root() {
            use std::os::unix::fs::PermissionsExt;
            for p in [dir.as_path(), &ini, &users] {
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
            cmd.args(["-u", "postgres"]);
        }
        let child = cmd
            .arg(&ini)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pgbouncer (apt-get install pgbouncer)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "pgbouncer did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Self { child, port, dir }
    }

    /// `url` (a database of the shared server) through this bouncer, statement cache off.
    fn route(&self, url: &str) -> String {
        let mut u = url::Url::parse(url).unwrap();
        u.set_port(Some(self.port)).unwrap();
        u.query_pairs_mut()
            .append_pair("statement-cache-capacity", "0");
        u.to_string()
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn which(tool: &str) -> String {
    ["/usr/sbin", "/usr/bin", "/usr/local/bin"]
        .iter()
        .map(|d| format!("{d}/{tool}"))
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or_else(|| tool.to_string())
}

async fn get_json(h: &SyncHarness, user: &str, path: &str) -> Value {
    let r = h.app.get(path, Some(&token(user, 3600, None))).await;
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

/// sqlx sends a statement's Parse/Describe and its Bind/Execute after two separate Syncs; a
/// transaction-mode PgBouncer 1.18 (Debian 12) hands the server connection back at a Sync
/// outside a transaction, so a Bind could reach another client's server connection ("22P03
/// incorrect binary data format in bind parameter 1", "invalid byte sequence for encoding UTF8:
/// 0x00"). The service runs every statement in a transaction (`db::pinned`, `pool.begin()`), so
/// the pooler keeps one server connection per statement. A single sync is too quiet to meet
/// the split: the test ends with 16 clients' statements over the bouncer's two server
/// connections (on a bare pool instead of `db::pinned`, errors in every run against 1.18).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syncs_and_api_reads_work_through_pgbouncer_in_transaction_mode() {
    let bouncer = Bouncer::start();
    let h = SyncHarness::routed(
        21,
        50,
        RedisSettings::new(redis_url()),
        |_| {},
        |db| (Some(bouncer.route(db)), None),
    )
    .await;
    // The OAuth flow, the first full sync and a second one, all through the bouncer.
    let c = h.connect(ProviderId::Twitter, "bea", "2002").await;
    assert_eq!(c.run.status, "succeeded", "{:?}", c.run);
    let again = h.sync(c.source, "bea", "full").await;
    assert_eq!(again.status, "succeeded", "{again:?}");
    assert!(c.run.new > 0);
    let sources = get_json(&h, "bea", "/api/v1/data-sources").await;
    assert_eq!(
        sources["data_sources"][0]["item_count"].as_i64(),
        Some(i64::from(c.run.new))
    );
    for query in ["", "?provider=twitter", "?kind=post", "?limit=5"] {
        let items = get_json(&h, "bea", &format!("/api/v1/items{query}")).await;
        assert!(!items["items"].as_array().unwrap().is_empty(), "{query}");
    }
    let runs = get_json(
        &h,
        "bea",
        &format!("/api/v1/data-sources/{}/sync-runs", c.source),
    )
    .await;
    assert!(runs.to_string().contains("succeeded"), "{runs}");
    h.shutdown().await;
    concurrent_statements_answer_right(&bouncer).await;
    drop(bouncer);
}

/// 16 clients, 1,000 statements each, through the bouncer: two statement texts with their
/// parameter types swapped, so a `Bind` that meets the other client's statement fails (or
/// answers wrong, which the comparison catches).
async fn concurrent_statements_answer_right(bouncer: &Bouncer) {
    let db = TestDb::new().await;
    let pool = lifesync::db::connect(&bouncer.route(&db.url), 16)
        .await
        .unwrap();
    let mut clients = Vec::new();
    for c in 0..16i64 {
        let pool = pool.clone();
        clients.push(tokio::spawn(async move {
            for i in 0..1000i64 {
                let (n, text) = (c * 1000 + i, format!("{c}-{i}"));
                let got: (i64, String) = if c % 2 == 0 {
                    sqlx::query_as("SELECT $1::int8 * 2, $2::text || 'x'")
                        .bind(n)
                        .bind(&text)
                        .fetch_one(lifesync::db::pinned(&pool))
                        .await
                } else {
                    sqlx::query_as("SELECT $2::int8 * 2, $1::text || 'x'")
                        .bind(&text)
                        .bind(n)
                        .fetch_one(lifesync::db::pinned(&pool))
                        .await
                }
                .expect("a statement through the bouncer");
                assert_eq!(got, (n * 2, format!("{text}x")));
            }
        }));
    }
    for c in clients {
        c.await.unwrap();
    }
    pool.close().await;
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_are_read_from_a_streaming_replica_and_sync_status_from_the_primary() {
    use crate::common::servers::PrivatePostgres;
    // pg_stat_statements on both: the replica's own view says what it was asked.
    let primary =
        PrivatePostgres::start_with(|_| vec!["shared_preload_libraries=pg_stat_statements".into()]);
    let replica = PrivatePostgres::replica_of(&primary);
    let (primary_url, replica_url) = (primary.url("lifesync"), replica.url("lifesync"));
    lifesync::db::create_database_if_missing(&primary_url)
        .await
        .unwrap();
    let pool = lifesync::db::connect(&primary_url, 2).await.unwrap();
    lifesync::db::migrate(&pool).await.unwrap();
    sqlx::query("CREATE EXTENSION pg_stat_statements")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let replica_pool = lifesync::db::connect_lazy_with(
        &lifesync::config::DatabaseConfig::new(replica_url.clone()),
        1,
    )
    .unwrap();
    let h = SyncHarness::routed(
        23,
        50,
        RedisSettings::new(redis_url()),
        |_| {},
        |_| (Some(primary_url.clone()), Some(replica_url.clone())),
    )
    .await;
    let c = h.connect(ProviderId::Twitter, "rex", "2002").await;
    assert_eq!(c.run.status, "succeeded", "{:?}", c.run);

    // The replica is a standby (read-only); wait until it has replayed the sync.
    let standby: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(&replica_pool)
        .await
        .unwrap();
    assert!(standby);
    loop {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
            .fetch_one(&replica_pool)
            .await
            .unwrap();
        if n == i64::from(c.run.new) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let items = get_json(&h, "rex", "/api/v1/items?limit=500").await;
    assert_eq!(
        items["items"].as_array().unwrap().len() as i32,
        c.run.new,
        "{items}"
    );
    let sources = get_json(&h, "rex", "/api/v1/data-sources").await;
    assert_eq!(
        sources["data_sources"][0]["item_count"].as_i64(),
        Some(i64::from(c.run.new))
    );

    // The caller's own sync status: the primary, so a sync just queued shows at once.
    let path = format!("/api/v1/data-sources/{}", c.source);
    let before = get_json(&h, "rex", &path).await["last_sync_at"].clone();
    let started = h.start_sync(c.source, "rex", "full").await;
    let source = get_json(&h, "rex", &path).await;
    assert!(
        source["sync_in_progress"] == true || source["last_sync_at"] != before,
        "a sync just started is not in the caller's status: {source}"
    );
    assert_eq!(h.wait(started.run).await.status, "succeeded");

    // What the API asked the replica (its own pg_stat_statements; the test's reads above are
    // plain counts): the items page, never the sources or their runs.
    let asked: Vec<String> = sqlx::query_scalar("SELECT query FROM pg_stat_statements")
        .fetch_all(&replica_pool)
        .await
        .unwrap();
    let asked = asked.join("\n");
    assert!(
        asked.contains("ORDER BY occurred_at DESC, id DESC LIMIT"),
        "{asked}"
    );
    assert!(
        !asked.contains("data_sources") && !asked.contains("sync_runs"),
        "sync status read on the replica: {asked}"
    );
    h.shutdown().await;
    replica_pool.close().await;
    drop(replica);
    drop(primary);
}
