import type { Node } from 'node-red';
import type { PgService } from '../../lib/pg/service';

export interface PgConfigCredentials {
  password?: string;
}

/** What nodes using a pg-config node see: the shared service, or why there is none. */
export interface PgConfigNode extends Node<PgConfigCredentials> {
  service?: PgService;
  configError?: string;
}
