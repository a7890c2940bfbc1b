import * as redis6 from 'redis6'
import { defineNodeRedisSuites } from './node-redis-suites.js'

// node-redis 6 (`redis` 6, installed under the redis6 alias) with its defaults: RESP3, a 5 s command timeout,
// and a cluster that refuses commands until connect() is done.
defineNodeRedisSuites('node-redis 6', redis6)
