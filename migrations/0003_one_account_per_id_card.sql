-- 0003 (issue #9): one account per ID-card number, also under concurrent
-- registrations. A database that already holds duplicates stops here with the
-- query that lists them (an operator merges them), instead of a bare index error.
DO $$
BEGIN
    IF to_regclass('users_id_card_unique') IS NULL AND EXISTS (
        SELECT 1 FROM users WHERE id_card IS NOT NULL GROUP BY id_card HAVING count(*) > 1
    ) THEN
        RAISE EXCEPTION 'users: several accounts share an ID-card number; merge them first'
            USING HINT = 'SELECT id_card, array_agg(id) FROM users WHERE id_card IS NOT NULL '
                         || 'GROUP BY id_card HAVING count(*) > 1';
    END IF;
END
$$;
CREATE UNIQUE INDEX IF NOT EXISTS users_id_card_unique ON users (id_card)
    WHERE id_card IS NOT NULL;
DROP INDEX IF EXISTS users_id_card;  -- the unique index serves its lookups
