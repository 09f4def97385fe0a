DROP TABLE photo_sync_runs;
DROP TABLE photo_sync_lease;
