"""One module per book chapter: its typed config (smoke defaults + ``FULL``) and the orchestration the
notebook calls, so notebooks stay thin and every chapter's parameters live in one place."""
