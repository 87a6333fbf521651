-- A campaign: many peerscope outputs under campaign/, one directory per run, each written
-- with `analyze --export parquet` (or converted by `peerscope export`).

-- Mean continuity per application and verdict (a run without a continuity index is counted
-- but not averaged).
SELECT application,
       verdict,
       count(*) AS runs,
       round(avg(continuity_index), 4) AS mean_continuity,
       round(avg(download_kbps), 1) AS mean_download_kbps
FROM 'campaign/*/report.parquet'
GROUP BY application, verdict
ORDER BY application, verdict;

-- The top suppliers across runs: video received from each address, over every run.
SELECT ip,
       count(DISTINCT run) AS runs,
       sum(video_in_bytes) AS video_in_bytes,
       round(max(share_in), 4) AS best_share
FROM 'campaign/*/peers.parquet'
WHERE role = 'supplier'
GROUP BY ip
ORDER BY video_in_bytes DESC, ip
LIMIT 5;
