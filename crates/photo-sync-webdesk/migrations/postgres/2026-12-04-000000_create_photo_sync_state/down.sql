DROP TABLE photo_sync_state;
