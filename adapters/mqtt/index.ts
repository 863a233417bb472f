/**
 * What aedes needs from the cluster: its `mq` (publish/subscribe between broker nodes) and its
 * `persistence` (retained messages, sessions, QoS 1/2 queues). Each call makes a fresh pair for
 * one aedes instance.
 */
export interface MqttBackend {
  /** An MQEmitter instance (mqemitter, mqemitter-redis). */
  mq: unknown
  /** An aedes persistence instance (aedes-persistence, aedes-persistence-redis). */
  persistence: unknown
}

export type MqttBackendFactory = () => MqttBackend
