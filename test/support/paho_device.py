#!/usr/bin/python3
"""A kp1 device written the way Kaa's tutorial writes one, with Debian's python3-paho-mqtt (1.6).

Connects over MQTT 3.1.1, first publishes its metadata to epmx update/keys/3 at QoS 0 (as Kaa's
mqtt-client-python does on start), publishes {"observe": true} to command/zero/1 (it never subscribes),
answers every `zero` and `reboot` command it receives (reply or push) with a result, sends one
telemetry sample, and prints every message it gets as one JSON line on stdout:
    {"topic": "...", "payload": "..."}
plus {"event": "connected"}, {"event": "result", ...} and {"event": "done"} lines. Exits after
--seconds, or at once on SIGTERM.
"""
import argparse
import json
import re
import signal
import sys
import time

import paho.mqtt.client as mqtt


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--app-version", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--client-id", default="")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--zero-status", type=int, default=200)
    parser.add_argument("--reboot-status", type=int, default=200)
    args = parser.parse_args()

    base = "kp1/%s/cex/%s" % (args.app_version, args.token)
    dcx = "kp1/%s/dcx/%s" % (args.app_version, args.token)
    epmx = "kp1/%s/epmx/%s" % (args.app_version, args.token)
    command_status = re.compile(r"^" + re.escape(base) + r"/command/(zero|reboot)(/\d+)?/status$")
    answered = set()
    request_id = [10]

    def next_id():
        request_id[0] += 1
        return request_id[0]

    def on_connect(client, userdata, flags, rc):
        emit({"event": "connected", "rc": rc})
        if rc != 0:
            return
        client.publish(epmx + "/update/keys/3", json.dumps({"name": "paho lamp", "firmwareVersion": "1.6"}), qos=0)
        client.publish(base + "/command/zero/1", json.dumps({"observe": True}), qos=1)
        client.publish(dcx + "/json/2", json.dumps({"temperature": 23.5, "source": "paho"}), qos=1)

    def on_message(client, userdata, msg):
        text = msg.payload.decode("utf-8")
        emit({"topic": msg.topic, "payload": text})
        match = command_status.match(msg.topic)
        if not match or not text:
            return
        command_type = match.group(1)
        results = []
        for command in json.loads(text):
            if command["id"] in answered:
                continue  # de-duplicate by id (kp1: delivery is at-least-once)
            answered.add(command["id"])
            code = args.zero_status if command_type == "zero" else args.reboot_status
            results.append({
                "id": command["id"],
                "statusCode": code,
                "reasonPhrase": "done by paho",
                "payload": {"echo": command.get("payload")},
            })
        if results:
            topic = "%s/result/%s/%d" % (base, command_type, next_id())
            client.publish(topic, json.dumps(results), qos=1)
            emit({"event": "result", "topic": topic, "ids": [r["id"] for r in results]})

    client = mqtt.Client(client_id=args.client_id, protocol=mqtt.MQTTv311)
    client.on_connect = on_connect
    client.on_message = on_message

    stop = [False]

    def on_term(signum, frame):
        stop[0] = True

    signal.signal(signal.SIGTERM, on_term)
    client.connect(args.host, args.port, keepalive=30)
    client.loop_start()
    deadline = time.time() + args.seconds
    while not stop[0] and time.time() < deadline:
        time.sleep(0.05)
    client.disconnect()
    client.loop_stop()
    emit({"event": "done"})


if __name__ == "__main__":
    main()
