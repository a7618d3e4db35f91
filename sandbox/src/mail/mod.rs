//! The mailbox behind the Gmail and Outlook stand-ins: one data model for both. A [`Mailbox`]
//! holds an account's messages in arrival order and a version counter: every add, delete, move
//! or read is one change, from which Gmail history ids and Graph delta tokens are derived.
//! [`MailData`] keeps the mailboxes of every account of one provider, generated on first use
//! from the seed ([`corpus`]); a [`MailKind`] says what differs per provider (message ids,
//! folders) and carries the provider's own request state (Gmail's quota, Outlook's concurrency).
//! [`control`] is the one sandbox-only control API of both.

pub mod control;
pub mod corpus;

use std::{collections::HashMap, sync::Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};

pub use corpus::{mix, sample_email, Email};

/// Emails per account in a fresh data set.
pub const DEFAULT_EMAILS: usize = 126;

/// One message of a mailbox and the changes that made and unmade it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub id: String,
    pub email: Email,
    /// The mailbox version that added it (0: the initial data set).
    pub added_v: u64,
    /// The mailbox version that deleted it.
    pub deleted_v: Option<u64>,
    /// Moves between folders (Outlook), oldest first: (version, folder's well-known name).
    /// Before the first it is in `inbox`.
    pub moves: Vec<(u64, String)>,
    /// The mailbox version that marked it read (Gmail: `UNREAD` removed; Graph: `isRead`).
    pub read_v: Option<u64>,
}

impl Mail {
    fn new(id: String, email: Email, added_v: u64) -> Self {
        Self {
            id,
            email,
            added_v,
            deleted_v: None,
            moves: Vec::new(),
            read_v: None,
        }
    }

    pub fn live(&self) -> bool {
        self.deleted_v.is_none()
    }

    /// The folder it was in at mailbox version `v` (Outlook).
    pub fn folder_at(&self, v: u64) -> &str {
        self.moves
            .iter()
            .rev()
            .find(|(at, _)| *at <= v)
            .map_or("inbox", |(_, f)| f.as_str())
    }

    /// The folder it is in now.
    pub fn folder(&self) -> &str {
        self.folder_at(u64::MAX)
    }

    /// Its labels now (`UNREAD` gone once read).
    pub fn labels(&self) -> Vec<&'static str> {
        self.email
            .labels
            .iter()
            .copied()
            .filter(|l| self.read_v.is_none() || *l != "UNREAD")
            .collect()
    }

    /// Whether it was unread before it was marked read (a label change happened).
    pub fn was_unread(&self) -> bool {
        self.email.labels.contains(&"UNREAD")
    }

    /// Whether it existed at mailbox version `v`.
    pub fn live_at(&self, v: u64) -> bool {
        self.added_v <= v && self.deleted_v.is_none_or(|d| d > v)
    }
}

/// An account's mailbox: messages in arrival order and a version counter (one per change).
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub mails: Vec<Mail>,
    pub version: u64,
    pub mix: u64,
}

impl Mailbox {
    /// The initial data set; `id(mix, n)` names the n-th message.
    pub fn generate(
        seed: u64,
        account: &str,
        count: usize,
        id: impl Fn(u64, u64) -> String,
    ) -> Self {
        let mix = mix(seed, account);
        let start = Utc.with_ymd_and_hms(2025, 6, 1, 8, 0, 0).unwrap();
        let mails = (0..count)
            .map(|i| {
                let when = start
                    + Duration::hours(17 * i as i64)
                    + Duration::minutes(((mix >> (i % 32)) % 50) as i64);
                Mail::new(id(mix, i as u64), sample_email(mix, i, when, account), 0)
            })
            .collect();
        Self {
            mails,
            version: 0,
            mix,
        }
    }

    pub fn live_ids(&self) -> Vec<String> {
        self.mails
            .iter()
            .filter(|m| m.live())
            .map(|m| m.id.clone())
            .collect()
    }

    /// Adds `n` new messages (one change each); returns their ids.
    pub fn add(&mut self, n: usize, id: impl Fn(u64, u64) -> String) -> Vec<String> {
        let mut ids = Vec::new();
        for _ in 0..n {
            let i = self.mails.len();
            let last = self
                .mails
                .last()
                .map_or_else(Utc::now, |m| m.email.received);
            self.version += 1;
            let email = sample_email(
                self.mix,
                i,
                last + Duration::minutes(37),
                &self
                    .mails
                    .first()
                    .map_or(String::new(), |m| m.email.to.clone()),
            );
            let mail = Mail::new(id(self.mix, i as u64), email, self.version);
            ids.push(mail.id.clone());
            self.mails.push(mail);
        }
        ids
    }

    /// Deletes the given live messages (one change each); returns those deleted.
    pub fn delete_ids(&mut self, ids: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for id in ids {
            if let Some(m) = self.mails.iter_mut().find(|m| &m.id == id && m.live()) {
                self.version += 1;
                m.deleted_v = Some(self.version);
                out.push(id.clone());
            }
        }
        out
    }

    /// Moves the given live messages to `folder` (one change each); returns those moved.
    pub fn move_ids(&mut self, ids: &[String], folder: &str) -> Vec<String> {
        let mut out = Vec::new();
        for id in ids {
            if let Some(m) = self
                .mails
                .iter_mut()
                .find(|m| &m.id == id && m.live() && m.folder() != folder)
            {
                self.version += 1;
                m.moves.push((self.version, folder.to_string()));
                out.push(id.clone());
            }
        }
        out
    }

    /// Marks the given live unread messages read (one change each); returns those changed.
    pub fn mark_read(&mut self, ids: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for id in ids {
            if let Some(m) = self
                .mails
                .iter_mut()
                .find(|m| &m.id == id && m.live() && m.read_v.is_none() && m.was_unread())
            {
                self.version += 1;
                m.read_v = Some(self.version);
                out.push(id.clone());
            }
        }
        out
    }

    /// Up to `n` live unread messages, oldest first (to mark read in tests).
    pub fn unread(&self, n: usize) -> Vec<String> {
        self.mails
            .iter()
            .filter(|m| m.live() && m.read_v.is_none() && m.was_unread())
            .take(n)
            .map(|m| m.id.clone())
            .collect()
    }

    /// Deletes the `n` oldest live messages; returns their ids.
    pub fn delete_oldest(&mut self, n: usize) -> Vec<String> {
        let mut live: Vec<(DateTime<Utc>, String)> = self
            .mails
            .iter()
            .filter(|m| m.live())
            .map(|m| (m.email.received, m.id.clone()))
            .collect();
        live.sort();
        let ids: Vec<String> = live.into_iter().take(n).map(|(_, id)| id).collect();
        self.delete_ids(&ids)
    }
}

/// What differs between the providers' mailboxes; the value is the provider's own request
/// state, kept beside the mailboxes.
pub trait MailKind: Default + Send + Sync + 'static {
    /// Mixed into the seed, so one account's mailboxes differ between providers.
    const SEED_SALT: u64;
    /// The provider's id of the `n`-th message of a mailbox (`mix` from seed and account).
    fn message_id(mix: u64, n: u64) -> String;
    /// The well-known name of the folder a name or id designates; None for an unknown one,
    /// and always for a provider without folders (then messages cannot be moved).
    fn folder(_name: &str) -> Option<&'static str> {
        None
    }
    /// Whether messages can be moved between folders.
    const FOLDERS: bool = false;
}

/// The mailboxes of every account of one provider (deterministic from the seed), with the
/// changes made at run time.
pub struct MailData<K> {
    pub seed: u64,
    accounts: Mutex<HashMap<String, Mailbox>>,
    /// The provider's own request state.
    pub(crate) provider: K,
}

impl<K: MailKind> MailData<K> {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            accounts: Mutex::new(HashMap::new()),
            provider: K::default(),
        }
    }

    /// Runs `f` on the account's mailbox (generated on first use).
    pub(crate) fn with<R>(&self, account: &str, f: impl FnOnce(&mut Mailbox) -> R) -> R {
        let mut accounts = self.accounts.lock().expect("accounts");
        let mb = accounts.entry(account.to_string()).or_insert_with(|| {
            Mailbox::generate(
                self.seed ^ K::SEED_SALT,
                account,
                DEFAULT_EMAILS,
                K::message_id,
            )
        });
        f(mb)
    }

    /// The ids of the account's live messages (what a full sync must end with).
    pub fn ids(&self, account: &str) -> Vec<String> {
        self.with(account, |mb| mb.live_ids())
    }

    /// Adds `n` new messages; returns their ids.
    pub fn add(&self, account: &str, n: usize) -> Vec<String> {
        self.with(account, |mb| mb.add(n, K::message_id))
    }

    /// Deletes the `m` oldest live messages; returns their ids.
    pub fn delete(&self, account: &str, m: usize) -> Vec<String> {
        self.with(account, |mb| mb.delete_oldest(m))
    }

    /// Deletes the given messages; returns those that were live.
    pub fn delete_ids(&self, account: &str, ids: &[String]) -> Vec<String> {
        self.with(account, |mb| mb.delete_ids(ids))
    }

    /// Moves the given messages to a folder (well-known name); returns those moved.
    pub fn move_ids(&self, account: &str, ids: &[String], to: &str) -> Vec<String> {
        self.with(account, |mb| mb.move_ids(ids, to))
    }

    /// Marks the given messages read (Gmail: `UNREAD` removed, a history record; Graph:
    /// `isRead`, a change in delta rounds); returns those changed.
    pub fn mark_read(&self, account: &str, ids: &[String]) -> Vec<String> {
        self.with(account, |mb| mb.mark_read(ids))
    }

    /// Up to `n` unread messages of the account.
    pub fn unread(&self, account: &str, n: usize) -> Vec<String> {
        self.with(account, |mb| mb.unread(n))
    }

    /// The live messages in the given folders (well-known names).
    pub fn ids_in(&self, account: &str, folders: &[&str]) -> Vec<String> {
        self.with(account, |mb| {
            mb.mails
                .iter()
                .filter(|m| m.live() && folders.contains(&m.folder()))
                .map(|m| m.id.clone())
                .collect()
        })
    }

    /// The email behind a message id (tests inspect what the client should have read).
    pub fn email(&self, account: &str, id: &str) -> Option<Email> {
        self.with(account, |mb| {
            mb.mails
                .iter()
                .find(|m| m.id == id)
                .map(|m| m.email.clone())
        })
    }
}
