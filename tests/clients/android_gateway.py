"""Drives smsqd's Android-gateway interface with the upstream Python client
(android-sms-gateway on PyPI, the project's own library), as a program written for a phone
running SMS Gateway for Android would. One action per run; the result is printed as JSON.

    android_gateway.py BASE_URL USER PASSWORD send ID NUMBER TEXT
    android_gateway.py BASE_URL USER PASSWORD state ID
    android_gateway.py BASE_URL USER PASSWORD list
    android_gateway.py BASE_URL USER PASSWORD webhook URL EVENT
    android_gateway.py BASE_URL USER PASSWORD webhooks
    android_gateway.py BASE_URL USER PASSWORD health
"""

import json
import sys

from android_sms_gateway import client, domain, enums


def state_dict(s):
    return {
        "id": s.id,
        "state": s.state.value,
        "recipients": [
            {"phoneNumber": r.phone_number, "state": r.state.value, "error": r.error}
            for r in s.recipients
        ],
        "states": s.states,
    }


def main():
    base, user, password, action, *args = sys.argv[1:]
    with client.APIClient(user, password, base_url=base) as c:
        if action == "send":
            msg_id, number, text = args
            s = c.send(
                domain.Message(
                    phone_numbers=[number],
                    text_message=domain.TextMessage(text=text),
                    with_delivery_report=True,
                    id=msg_id,
                )
            )
            out = state_dict(s)
        elif action == "state":
            out = state_dict(c.get_state(args[0]))
        elif action == "list":
            out = [state_dict(s) for s in c.get_messages()]
        elif action == "webhook":
            url, event = args
            w = c.create_webhook(
                domain.Webhook(id=None, url=url, event=enums.WebhookEvent(event))
            )
            out = {"id": w.id, "url": w.url, "event": w.event.value}
        elif action == "webhooks":
            out = [{"id": w.id, "url": w.url, "event": w.event.value} for w in c.get_webhooks()]
        elif action == "health":
            out = {"status": c.health_check().status.value}
        else:
            raise SystemExit(f"unknown action {action}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
