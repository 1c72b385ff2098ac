"""A lab's record: what it created (store, ownership), what it is (info), and the topology it
was brought up from (saved)."""
