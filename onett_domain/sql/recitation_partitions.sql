-- Per document partition (contributor, month), the documents the guard holds: how many, and an order-independent
-- digest of them (XOR of each row's hash). An update reads again only the partitions whose digest moved. DuckDB's
-- hash() may change between its versions: then every partition is read again once, nothing worse.
SELECT contributor_id, period, count(*) AS documents, bit_xor(hash(content_hash, file, position, doc_id)) AS digest
FROM guard_documents
GROUP BY ALL
ORDER BY ALL
