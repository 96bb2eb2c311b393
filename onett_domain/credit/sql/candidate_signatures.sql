SELECT c.a, c.b, ta.signature AS sa, tb.signature AS sb
FROM _candidates c JOIN minhash_texts ta ON ta.text_id = c.a JOIN minhash_texts tb ON tb.text_id = c.b
