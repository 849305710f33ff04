#!/bin/bash
# kafka-topics.sh of the Kafka distribution, in the look-alike image.
exec /opt/kafka/bin/kafka-run-tool org.apache.kafka.tools.TopicCommand "$@"
