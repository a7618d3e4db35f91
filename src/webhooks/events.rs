//! The events an endpoint can subscribe to (the contract's list). Their payloads are written
//! where they happen — the triggers of migration `20261207120000_webhooks` and the OAuth
//! completion — and carry ids and counts only, never item content or tokens.

/// One event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    ConnectionCreated,
    ConnectionFailed,
    DataSourceStatusChanged,
    SyncSucceeded,
    SyncFailed,
    ItemsChanged,
}

impl EventType {
    pub const ALL: [EventType; 6] = [
        Self::ConnectionCreated,
        Self::ConnectionFailed,
        Self::DataSourceStatusChanged,
        Self::SyncSucceeded,
        Self::SyncFailed,
        Self::ItemsChanged,
    ];

    /// The name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConnectionCreated => "connection.created",
            Self::ConnectionFailed => "connection.failed",
            Self::DataSourceStatusChanged => "data_source.status_changed",
            Self::SyncSucceeded => "sync.succeeded",
            Self::SyncFailed => "sync.failed",
            Self::ItemsChanged => "items.changed",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::EventType;

    #[test]
    fn names_round_trip() {
        for e in EventType::ALL {
            assert_eq!(EventType::parse(e.as_str()), Some(e));
        }
        assert_eq!(EventType::parse("sync.*"), None);
    }
}
