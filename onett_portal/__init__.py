"""The contributor and consumer portal: contributors upload and see their own numbers; the consumer's
operators see every contributor, upload revenue and mark months paid. Reads the warehouse, never writes it."""
