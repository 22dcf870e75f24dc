-- Schema version 5 is reserved: another branch (wip/fleetexp) adds the real
-- 0005 migration. This placeholder only keeps the numbering gap-free so
-- 0006 loads on this branch; delete it when merging that branch's 0005.
SELECT 1;
