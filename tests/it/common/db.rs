//! A database of the test's own: created fresh and migrated, dropped at the end; its rows as
//! tests read them (runs, stored items) and the sources tests insert directly.

use super::*;
use sqlx::PgPool;
use uuid::Uuid;

/// A database of this test's own, migrated, dropped by [`TestDb::drop`] — or, when a test
/// ends without it (a failed assertion, a forgotten shutdown), when the value is dropped.
pub struct TestDb {
    pub pool: PgPool,
    pub url: String,
    name: String,
    dropped: bool,
}

/// The PostgreSQL server tests use (`TEST_DATABASE_URL`, without a database name).
pub fn pg_base() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A database no other test uses (nothing is created): its URL and name.
pub struct FreshDb {
    pub url: String,
    pub name: String,
}

/// A database name no other test uses, and its URL; nothing is created.
pub fn fresh_db() -> FreshDb {
    let name = format!(
        "lifesync_test_{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    FreshDb {
        url: format!("{}/{name}", pg_base()),
        name,
    }
}

/// Drops a test database (whoever is still connected).
pub async fn drop_db(name: &str) {
    let admin = PgPool::connect(&format!("{}/postgres", pg_base()))
        .await
        .expect("PostgreSQL");
    // The name is ours (a fresh ULID), not input.
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&admin)
        .await
        .unwrap();
}

impl TestDb {
    pub async fn new() -> Self {
        let FreshDb { url, name } = fresh_db();
        lifesync::db::create_database_if_missing(&url)
            .await
            .expect("PostgreSQL");
        let pool = lifesync::db::connect(&url, 5).await.unwrap();
        lifesync::db::migrate(&pool).await.unwrap();
        Self {
            pool,
            url,
            name,
            dropped: false,
        }
    }

    pub async fn drop(mut self) {
        self.pool.close().await;
        drop_db(&self.name).await;
        self.dropped = true;
    }

    pub async fn user(&self, id: &str) {
        sqlx::query("INSERT INTO users (id) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(id)
            .execute(&self.pool)
            .await
            .unwrap();
    }

    /// A connected data source (as OAuth completion will create them).
    pub async fn data_source(&self, user: &str, provider: &str, account: &str) -> Uuid {
        self.user(user).await;
        let id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO data_sources (id, user_id, provider, account_id, account_name)
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(id)
        .bind(user)
        .bind(provider)
        .bind(account)
        .execute(&self.pool)
        .await
        .unwrap();
        id
    }
}

impl TestDb {
    /// A connected Twitter account with a sandbox-issued token, sealed at rest.
    pub async fn twitter_source(
        &self,
        user: &str,
        account: &str,
        sandbox: &TestSandbox,
    ) -> TwitterSource {
        let id = self.data_source(user, "twitter", account).await;
        let token = sandbox.state.issue_token(account);
        let key = token_key();
        let cipher = lifesync::crypto::TokenCipher::new(&key);
        lifesync::db::tokens::store(
            &mut self.pool.acquire().await.unwrap(),
            id,
            &cipher.seal(token.as_bytes()),
            Some(&cipher.seal(b"refresh-token-value")),
            None,
            &["tweet.read".to_string(), "users.read".to_string()],
        )
        .await
        .unwrap();
        TwitterSource { ds: id, token }
    }
}

/// A Twitter source of [`TestDb::twitter_source`] and the access token sealed for it.
pub struct TwitterSource {
    pub ds: Uuid,
    pub token: String,
}

/// A run as it stands (finished or not). In a transaction of its own, as the service's
/// statements: the pool may go through a transaction-mode PgBouncer (`sync::scale_out`).
pub async fn run_row(pool: &PgPool, run: impl std::fmt::Display) -> RunOutcome {
    sqlx::query_as(
        "SELECT status, items_fetched, items_new, items_updated, error
           FROM sync_runs WHERE id = $1::uuid",
    )
    .bind(run.to_string())
    .fetch_one(lifesync::db::pinned(pool))
    .await
    .unwrap()
}

/// How a sync run ended, as `sync_runs` records it.
#[derive(Debug, sqlx::FromRow)]
pub struct RunOutcome {
    pub status: String,
    #[sqlx(rename = "items_fetched")]
    pub fetched: i32,
    #[sqlx(rename = "items_new")]
    pub new: i32,
    #[sqlx(rename = "items_updated")]
    pub updated: i32,
    pub error: Option<String>,
}

/// One stored item of a source.
#[derive(Debug, sqlx::FromRow)]
pub struct StoredItem {
    pub external_id: String,
    pub deleted: bool,
}

impl Drop for TestDb {
    /// A test that ended without [`TestDb::drop`] (panicking, or never shutting down) still
    /// leaves no database behind: dropped from a thread of its own, which may block here.
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(drop_db(&name));
        })
        .join();
        if dropped.is_err() {
            eprintln!("test database {} was not dropped", self.name);
        }
    }
}
