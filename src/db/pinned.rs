//! Statements outside a transaction, each run in a transaction of its own ([`pinned`]).
//!
//! sqlx runs a statement with parameters as two exchanges: `Parse`/`Describe`/`Sync`, then
//! `Bind`/`Execute`/`Sync`. A transaction-mode pooler (PgBouncer before 1.21 with sqlx's
//! statement cache off) hands the server connection back at every `Sync` outside a
//! transaction, so under concurrency the `Bind` can reach another client's server connection.
//! Inside `BEGIN … COMMIT` the pooler keeps one server connection for the client, so every
//! statement of this crate runs in a transaction: the functions of `db` that take a pool run
//! their single statements on `pinned(pool)`, and their multi-statement work in
//! `pool.begin()`; those that take a connection take `&mut PgConnection` (a transaction's),
//! never `impl PgExecutor`, which a bare pool would satisfy. The cost, direct to PostgreSQL,
//! is the `BEGIN` and `COMMIT` round trips (`lifesync bench statements`; BENCHMARKS.md, "Every
//! statement in a transaction"); the gain is one code path, behind a pooler or not.

use futures_util::{future::BoxFuture, stream::BoxStream, StreamExt, TryStreamExt};
use sqlx::{Describe, Either, Execute, Executor, PgPool, Postgres};

/// An executor that runs each statement in its own transaction on a connection of `pool`.
pub fn pinned(pool: &PgPool) -> Pinned<'_> {
    Pinned(pool)
}

/// See [`pinned`].
#[derive(Debug, Clone, Copy)]
pub struct Pinned<'p>(&'p PgPool);

type Step = Either<sqlx::postgres::PgQueryResult, sqlx::postgres::PgRow>;

impl<'p> Executor<'p> for Pinned<'p> {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, sqlx::Result<Step>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let pool = self.0.clone();
        // Collected before the commit: a statement's rows are whole once it has committed.
        let steps = async move {
            let mut tx = pool.begin().await?;
            let steps: Vec<Step> = (&mut *tx).fetch_many(query).try_collect().await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(steps)
        };
        futures_util::stream::once(steps)
            .map_ok(|steps| futures_util::stream::iter(steps.into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, sqlx::Result<Option<sqlx::postgres::PgRow>>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let pool = self.0.clone();
        Box::pin(async move {
            let mut tx = pool.begin().await?;
            let row = (&mut *tx).fetch_optional(query).await?;
            tx.commit().await?;
            Ok(row)
        })
    }

    fn prepare_with<'e>(
        self,
        sql: sqlx::SqlStr,
        parameters: &'e [sqlx::postgres::PgTypeInfo],
    ) -> BoxFuture<'e, sqlx::Result<sqlx::postgres::PgStatement>>
    where
        'p: 'e,
    {
        let pool = self.0.clone();
        Box::pin(async move {
            let mut tx = pool.begin().await?;
            let statement = (&mut *tx).prepare_with(sql, parameters).await?;
            tx.commit().await?;
            Ok(statement)
        })
    }

    fn describe<'e>(self, sql: sqlx::SqlStr) -> BoxFuture<'e, sqlx::Result<Describe<Postgres>>>
    where
        'p: 'e,
    {
        let pool = self.0.clone();
        Box::pin(async move {
            let mut tx = pool.begin().await?;
            let described = (&mut *tx).describe(sql).await?;
            tx.commit().await?;
            Ok(described)
        })
    }
}
