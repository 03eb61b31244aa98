-- onelive cluster schema, version 1: nodes, channels with their leases and
-- the open session of each channel. Every table is prefixed `onelive_` so
-- that the cluster can share a database with other applications.

CREATE TABLE onelive_nodes (
    node_id         TEXT PRIMARY KEY,
    started_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    heartbeat_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The node's lease duration: it counts as alive while
    -- heartbeat_at + lease_ms is in the future and it has not left.
    lease_ms        BIGINT NOT NULL CHECK (lease_ms > 0),
    max_recordings  INTEGER NOT NULL CHECK (max_recordings > 0),
    left_at         TIMESTAMPTZ
);

CREATE TABLE onelive_channels (
    -- The caller's channel key (the engine's channel id).
    key              TEXT PRIMARY KEY,
    -- The channel's configuration, opaque to the cluster crate.
    spec             JSONB NOT NULL DEFAULT '{}'::jsonb,
    enabled          BOOLEAN NOT NULL DEFAULT TRUE,
    -- Only this node may own the channel, when set.
    pinned_node      TEXT,
    -- The lease: owner and expiry (database clock). The epoch is the
    -- fencing token; it grows by one on every claim and never goes back.
    owner            TEXT,
    epoch            BIGINT NOT NULL DEFAULT 0,
    lease_expires_at TIMESTAMPTZ,
    claimed_at       TIMESTAMPTZ,
    -- Whether the owner says it is recording the channel now.
    recording        BOOLEAN NOT NULL DEFAULT FALSE,
    -- The open session, kept across releases and takeovers.
    session_id       UUID,
    next_part        INTEGER,
    live_info        JSONB,
    session_record   JSONB,
    session_saved_at TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((owner IS NULL) = (lease_expires_at IS NULL))
);

CREATE INDEX onelive_channels_owner ON onelive_channels (owner);
