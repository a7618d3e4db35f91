-- The fencing token of the refresh-lock holder that wrote a source's tokens (0: written by a
-- connect). Refresh locks hand out ever larger fences; see src/oauth/tokens.rs.
ALTER TABLE oauth_tokens ADD COLUMN fence BIGINT NOT NULL DEFAULT 0 CHECK (fence >= 0);
