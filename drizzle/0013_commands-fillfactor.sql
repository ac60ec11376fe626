-- Room on every page of commands for the row's next version: recording a delivery changes no
-- indexed column, so with space on its page the update is HOT and writes no index entries (nine
-- indexes otherwise). Pages written before this keep their old fill.
ALTER TABLE "commands" SET (fillfactor = 70);
