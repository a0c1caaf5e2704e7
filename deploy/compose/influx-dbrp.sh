#!/bin/sh
# InfluxDB 2.x: map the v1 database/retention policy names to the bucket so InfluxQL reads work
# (Watt League's influxdb2:// store queries through /query, InfluxQL). Run once after setup.
set -eu
BUCKET_ID=$(docker compose exec -T influxdb influx bucket list --name wattleague \
  --org wattleague --token "$INFLUX_TOKEN" --hide-headers | cut -f1)
docker compose exec -T influxdb influx v1 dbrp create --org wattleague --token "$INFLUX_TOKEN" \
  --db wattleague --rp autogen --bucket-id "$BUCKET_ID" --default
