-- The demo application: a chat-bot platform. Workspaces own bots; users chat with bots; every chat
-- has messages; bots call LLMs and receive webhook events. Realistic shape, realistic mistakes.
CREATE TABLE workspaces (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    plan        text NOT NULL DEFAULT 'free',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email         text NOT NULL UNIQUE,
    display_name  text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_workspace_id_idx ON users (workspace_id);

CREATE TABLE bots (
    id            serial PRIMARY KEY,
    workspace_id  bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name          text NOT NULL,
    model         text NOT NULL,
    settings      jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bots_workspace_id_idx ON bots (workspace_id);

CREATE TABLE chats (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bot_id        integer NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    user_id       bigint REFERENCES users (id) ON DELETE SET NULL,
    workspace_id  bigint NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    channel       text NOT NULL,
    status        text NOT NULL DEFAULT 'open',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chats_workspace_id_idx ON chats (workspace_id);

CREATE TABLE messages (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    chat_id     bigint NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    role        text NOT NULL,
    content     text NOT NULL,
    tokens      integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_events (
    id          serial PRIMARY KEY,
    bot_id      integer NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    event_type  text NOT NULL,
    status      text NOT NULL,
    attempts    integer NOT NULL DEFAULT 0,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_events_bot_id_idx ON webhook_events (bot_id);

CREATE TABLE llm_calls (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bot_id             integer NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    message_id         bigint REFERENCES messages (id) ON DELETE SET NULL,
    model              text NOT NULL,
    prompt_tokens      integer NOT NULL,
    completion_tokens  integer NOT NULL,
    latency_ms         integer NOT NULL,
    cost_usd           numeric(10, 6) NOT NULL,
    metadata           jsonb NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX llm_calls_bot_id_created_at_idx ON llm_calls (bot_id, created_at);

-- An append-only audit trail written by a background job: nobody gave it a key.
CREATE TABLE audit_log (
    created_at  timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL,
    details     jsonb
);
