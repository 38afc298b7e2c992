//! Summary records: what a tap reports about its segment.
