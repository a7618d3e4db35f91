-- The fence of the refresh whose refusal of these very tokens made the source
-- `reauth_required` (NULL: not refused). Every token write clears it; a renewal that stores
-- tokens renewed from refused ones reopens the source. See src/oauth/tokens.rs.
ALTER TABLE oauth_tokens ADD COLUMN refused_fence BIGINT CHECK (refused_fence > 0);
