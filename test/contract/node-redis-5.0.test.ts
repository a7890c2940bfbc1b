import * as redis50 from 'redis-client-5-0'
import { defineNodeRedisSuites } from './node-redis-suites.js'

// The peer range's floor: @redis/client 5.0.0 (under the redis-client-5-0 alias), whose cluster emits no event
// when it knows its topology and whose nodeClient() returns a connected node's client as it is.
defineNodeRedisSuites('node-redis 5.0.0', redis50)
