//! Linkedin's data API (see `providers.md`). Not yet implemented: every page fails permanently,
//! so a sync of this provider ends with a clear error instead of looping.

use super::{Page, PageRequest, Provider, ProviderError, ProviderId, Session};

pub struct Linkedin;

impl Provider for Linkedin {
    const ID: ProviderId = ProviderId::Linkedin;
    const PAGE_SIZE: std::ops::RangeInclusive<u32> = 1..=100;

    async fn fetch_page(_s: &Session<'_>, _req: PageRequest<'_>) -> Result<Page, ProviderError> {
        Err(ProviderError::Permanent(format!(
            "syncing {} is not supported yet",
            Self::ID
        )))
    }
}
