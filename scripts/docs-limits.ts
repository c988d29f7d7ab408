/** Writes the limits table of lib/limits.ts into README.md, between its markers. */
import * as fs from 'fs';
import * as path from 'path';
import { withLimitsTable } from '../lib/limits-doc';

const readmePath = path.join(__dirname, '..', 'README.md');
fs.writeFileSync(readmePath, withLimitsTable(fs.readFileSync(readmePath, 'utf8')));
