import { z } from 'zod';
import { hpcWrapSchema } from '../config/schema.js';
console.log(JSON.stringify(z.toJSONSchema(hpcWrapSchema, { io: 'input' }), null, 1));
