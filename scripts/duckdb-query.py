#!/usr/bin/env python3
"""Runs SQL with DuckDB and prints each statement's result as one JSON line per row.

Usage: duckdb-query.py [--cd DIR] SQL | duckdb-query.py [--cd DIR] --file FILE.sql

The Parquet tests (tests/parquet.rs) read peerscope's exports back with it, from the venv
`scripts/setup.sh --test` makes (target/duckdb-venv). A result set starts with a line
{"columns": [...]}; values DuckDB cannot put in JSON (dates, decimals) are printed as text.
"""
import json
import os
import sys

import duckdb


def main(argv):
    cd = None
    if argv[:1] == ["--cd"]:
        cd, argv = argv[1], argv[2:]
    if argv[:1] == ["--file"] and len(argv) == 2:
        with open(argv[1], encoding="utf-8") as f:
            sql = f.read()
    elif len(argv) == 1:
        sql = argv[0]
    else:
        print(__doc__, file=sys.stderr)
        return 2
    if cd is not None:
        os.chdir(cd)
    con = duckdb.connect()
    # One statement at a time, so each result set is printed.
    for statement in con.extract_statements(sql):
        rel = con.execute(statement)
        if rel.description is None:
            continue
        print(json.dumps({"columns": [d[0] for d in rel.description]}))
        for row in rel.fetchall():
            print(json.dumps(list(row), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
