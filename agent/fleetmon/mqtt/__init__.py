"""The MQTT side the agent and the hub share: broker settings and the link that keeps a session to it."""
