-- Which row of a partition's parts to read each of its texts new to the guard from: the first holding it, rows
-- numbered across the parts in order (`_offsets`: each part's first row), in row order. {besides} leaves out the
-- texts other parts hold.
SELECT min(o.offset + p.file_row_number) AS row, n.text_id, any_value(n.content_hash) AS content_hash
FROM {parts} p JOIN _offsets o USING (filename)
     JOIN new n ON n.content_hash = p.content_hash AND n.contributor_id = $contributor_id AND n.period = $period
     {besides}
GROUP BY n.text_id
ORDER BY row
