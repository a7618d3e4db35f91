//! The schema, applied by the real `lifesync migrate` process to a fresh database, enforces the
//! invariants the service relies on.

use std::process::Command;

use crate::common::{drop_db, fresh_db, FreshDb};

use sqlx::{PgPool, Row};
use uuid::Uuid;

fn migrate(url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lifesync"))
        .arg("migrate")
        .env("DATABASE_URL", url)
        .output()
        .unwrap()
}

async fn is_violation(pool: &PgPool, sql: &str) -> bool {
    // Statements built by this test from literals and fresh UUIDs.
    match sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(pool)
        .await
    {
        Ok(_) => false,
        Err(sqlx::Error::Database(e)) => e.is_unique_violation() || e.is_check_violation(),
        Err(e) => panic!("{sql}: {e}"),
    }
}

#[tokio::test]
async fn migrate_creates_the_database_and_the_schema_enforces_its_invariants() {
    let FreshDb { url, name } = fresh_db();
    let out = migrate(&url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = migrate(&url);
    assert!(again.status.success(), "migrate is idempotent");

    let pool = PgPool::connect(&url).await.unwrap();
    let ds = Uuid::new_v4();
    sqlx::query("INSERT INTO users (id) VALUES ('u1')")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO data_sources (id, user_id, provider, account_id) VALUES ($1, 'u1', 'twitter', '1234567890123456789')",
    )
    .bind(ds)
    .execute(&pool)
    .await
    .unwrap();

    // One account per user and provider.
    assert!(
        is_violation(
            &pool,
            &format!("INSERT INTO data_sources (id, user_id, provider, account_id) VALUES ('{}', 'u1', 'twitter', '1234567890123456789')", Uuid::new_v4())
        )
        .await
    );
    // Unknown provider, status.
    assert!(
        is_violation(
            &pool,
            &format!("INSERT INTO data_sources (id, user_id, provider, account_id) VALUES ('{}', 'u1', 'myspace', 'x')", Uuid::new_v4())
        )
        .await
    );
    assert!(
        is_violation(
            &pool,
            &format!("UPDATE data_sources SET status = 'sleepy' WHERE id = '{ds}'")
        )
        .await
    );

    // At most one queued or running sync per data source; finished ones do not count.
    let run = |status: &str| {
        format!(
            "INSERT INTO sync_runs (id, data_source_id, mode, trigger, status) VALUES ('{}', '{ds}', 'full', 'manual', '{status}')",
            Uuid::new_v4()
        )
    };
    assert!(!is_violation(&pool, &run("running")).await);
    assert!(
        is_violation(&pool, &run("queued")).await,
        "second active run refused"
    );
    assert!(!is_violation(&pool, &run("succeeded")).await);
    assert!(is_violation(&pool, &format!(
        "INSERT INTO sync_runs (id, data_source_id, mode, trigger) VALUES ('{}', '{ds}', 'full', 'cron')",
        Uuid::new_v4()
    )).await, "unknown trigger refused");

    // Items: one per data source and external id; a 32-byte hash; categories only on emails.
    let item = |ext: &str, kind: &str, category: &str, hash_len: usize| {
        format!(
            "INSERT INTO items (id, data_source_id, user_id, provider, kind, external_id, occurred_at, category, content_hash)
             VALUES ('{}', '{ds}', 'u1', 'twitter', '{kind}', '{ext}', now(), {category}, decode(repeat('ab', {hash_len}), 'hex'))",
            Uuid::new_v4()
        )
    };
    assert!(!is_violation(&pool, &item("t1", "post", "NULL", 32)).await);
    assert!(
        is_violation(&pool, &item("t1", "post", "NULL", 32)).await,
        "duplicate external id"
    );
    assert!(
        is_violation(&pool, &item("t2", "post", "NULL", 31)).await,
        "hash is SHA-256"
    );
    assert!(
        is_violation(&pool, &item("t3", "post", "'PERSONAL'", 32)).await,
        "category on a post"
    );
    assert!(
        is_violation(&pool, &item("e1", "email", "'SPAM'", 32)).await,
        "unknown category"
    );
    assert!(!is_violation(&pool, &item("e2", "email", "'TRAVEL_FLIGHT'", 32)).await);

    // Deleting a data source deletes its runs and items.
    sqlx::query("DELETE FROM data_sources WHERE id = $1")
        .bind(ds)
        .execute(&pool)
        .await
        .unwrap();
    let left: i64 =
        sqlx::query("SELECT (SELECT count(*) FROM items) + (SELECT count(*) FROM sync_runs)")
            .fetch_one(&pool)
            .await
            .unwrap()
            .get(0);
    assert_eq!(left, 0);

    pool.close().await;
    drop_db(&name).await;
}
