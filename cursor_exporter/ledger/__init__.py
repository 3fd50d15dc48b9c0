"""The ledger: SQLite storage, the hourly usage ledger, window planning and paged window scans."""
