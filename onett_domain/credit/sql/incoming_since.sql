UPDATE _since SET since = least(since, (SELECT min(submitted_at) FROM _incoming))
