//! Is a server on the defaults usable as it is? A PostgreSQL counts when a connection with the
//! default URL (to its `postgres` database) succeeds, a Redis when it answers PING: something
//! listening that refuses dev (a packaged PostgreSQL with peer authentication, say) is
//! reported, and dev starts its own beside it.

use std::time::Duration;

use sqlx::{postgres::PgConnectOptions, ConnectOptions, Connection};

const TIMEOUT: Duration = Duration::from_secs(3);

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Usable,
    /// Nothing accepts connections there.
    Absent,
    /// Something answers but refuses (the reason, without secrets).
    Refused(String),
}

/// `host:port` of a URL, for messages and the TCP check.
pub fn endpoint(url: &str, default_port: u16) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}:{}",
            u.host_str().unwrap_or("localhost"),
            u.port().unwrap_or(default_port)
        ),
        Err(_) => url.to_string(),
    }
}

async fn listening(addr: &str) -> bool {
    matches!(
        tokio::time::timeout(TIMEOUT, tokio::net::TcpStream::connect(addr)).await,
        Ok(Ok(_))
    )
}

pub async fn postgres(url: &str) -> Probe {
    if !listening(&endpoint(url, 5432)).await {
        return Probe::Absent;
    }
    let options = match url.parse::<PgConnectOptions>() {
        Ok(o) => o.database("postgres"),
        Err(e) => return Probe::Refused(e.to_string()),
    };
    match tokio::time::timeout(TIMEOUT, options.connect()).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Probe::Usable
        }
        Ok(Err(sqlx::Error::Database(e))) => Probe::Refused(first_line(e.message())),
        // Whatever listened has gone since the check (or was another's short-lived socket).
        Ok(Err(sqlx::Error::Io(e))) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Probe::Absent
        }
        Ok(Err(e)) => Probe::Refused(first_line(&e.to_string())),
        Err(_) => Probe::Refused("no answer in 3 s".into()),
    }
}

pub async fn redis(url: &str) -> Probe {
    if !listening(&endpoint(url, 6379)).await {
        return Probe::Absent;
    }
    let ping = async {
        let client = redis::Client::open(url)?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    match tokio::time::timeout(TIMEOUT, ping).await {
        Ok(Ok(_)) => Probe::Usable,
        Ok(Err(e)) if e.is_connection_refusal() => Probe::Absent,
        Ok(Err(e)) => Probe::Refused(first_line(&e.to_string())),
        Err(_) => Probe::Refused("no answer in 3 s".into()),
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_fill_in_the_default_port() {
        assert_eq!(
            endpoint("postgres://postgres@127.0.0.1/lifesync", 5432),
            "127.0.0.1:5432"
        );
        assert_eq!(
            endpoint("redis://:pw@localhost:7000/0", 6379),
            "localhost:7000"
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_absent() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("postgres://postgres@127.0.0.1:{port}/lifesync");
        assert_eq!(postgres(&url).await, Probe::Absent);
        assert_eq!(
            redis(&format!("redis://127.0.0.1:{port}")).await,
            Probe::Absent
        );
    }
}
