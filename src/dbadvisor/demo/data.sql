-- About 2 million rows, generated inside the database (no client round trips).
SELECT setseed(0.42);

INSERT INTO workspaces (name, plan, created_at)
SELECT 'workspace ' || g, (ARRAY['free', 'free', 'free', 'pro', 'team', 'enterprise'])[1 + g % 6],
       now() - (g % 900) * interval '1 day'
FROM generate_series(1, 2000) g;

INSERT INTO users (workspace_id, email, display_name, created_at)
SELECT 1 + g % 2000, 'user' || g || '@example.com', 'User ' || g, now() - (g % 800) * interval '1 day'
FROM generate_series(1, 50000) g;

INSERT INTO bots (workspace_id, name, model, settings, created_at)
SELECT 1 + g % 2000, 'bot ' || g, (ARRAY['gpt-4o', 'gpt-4o-mini', 'claude-sonnet', 'llama-3-70b'])[1 + g % 4],
       jsonb_build_object('temperature', (g % 10) / 10.0, 'language', (ARRAY['en', 'de', 'fr', 'es'])[1 + g % 4]),
       now() - (g % 700) * interval '1 day'
FROM generate_series(1, 5000) g;

INSERT INTO chats (bot_id, user_id, workspace_id, channel, status, created_at, updated_at)
SELECT b, 1 + (g * 7) % 50000, 1 + b % 2000,
       (ARRAY['web', 'telegram', 'whatsapp', 'slack', 'api'])[1 + g % 5],
       CASE WHEN g % 10 = 0 THEN 'open' ELSE 'closed' END,
       now() - (g % 365) * interval '1 day' - (g % 86400) * interval '1 second',
       now() - (g % 300) * interval '1 day'
FROM (SELECT g, 1 + (g * 13) % 5000 AS b FROM generate_series(1, 200000) g) s;

INSERT INTO messages (chat_id, role, content, tokens, created_at)
SELECT 1 + (g % 200000), CASE WHEN g % 2 = 0 THEN 'user' ELSE 'assistant' END,
       repeat(md5(g::text), 1 + g % 4), 10 + g % 900,
       now() - ((g % 200000) % 365) * interval '1 day' + (g / 200000) * interval '1 minute'
FROM generate_series(1, 1000000) g;

INSERT INTO llm_calls (bot_id, message_id, model, prompt_tokens, completion_tokens, latency_ms, cost_usd, metadata, created_at)
SELECT 1 + g % 5000, 2 * g, (ARRAY['gpt-4o', 'gpt-4o-mini', 'claude-sonnet', 'llama-3-70b'])[1 + g % 4],
       100 + g % 4000, 20 + g % 800, 200 + (g * 37) % 9000, ((g % 1000) / 100000.0)::numeric(10, 6),
       jsonb_build_object('feature', (ARRAY['chat', 'chat', 'chat', 'summarize', 'classify', 'extract'])[1 + g % 6],
                          'cache_hit', g % 3 = 0, 'region', (ARRAY['eu', 'us'])[1 + g % 2]),
       now() - interval '180 days' + g * interval '180 days' / 400000  -- six months, written in time order
FROM generate_series(1, 400000) g;

INSERT INTO webhook_events (bot_id, event_type, status, attempts, payload, created_at)
SELECT 1 + g % 5000, (ARRAY['message.created', 'chat.closed', 'bot.updated', 'user.joined'])[1 + g % 4],
       CASE WHEN g % 200 = 0 THEN 'failed' WHEN g % 67 = 0 THEN 'pending' ELSE 'delivered' END,
       1 + g % 3, jsonb_build_object('n', g, 'source', 'api'),
       now() - (g % 90) * interval '1 day'
FROM generate_series(1, 300000) g;

INSERT INTO audit_log (created_at, actor, action, details)
SELECT now() - (g % 365) * interval '1 day', 'user' || (g % 50000), (ARRAY['login', 'update_bot', 'export'])[1 + g % 3],
       jsonb_build_object('ip', '10.0.' || (g % 255) || '.' || (g % 250))
FROM generate_series(1, 100000) g;
