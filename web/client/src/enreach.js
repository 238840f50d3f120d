// enreach.js: Enreach.API (Voice for Dynamics): executeQuery, setANumber
// and the retrying Xrm.* record calls, each one enreach.* JSON-RPC call that
// rejects with CifBridgeError.

const isBlank = (v) => v === null || v === undefined || v === "";

export function makeEnreachAPI(client) {
  const grace = () => client._opts.timeoutGraceMs;
  // The retry engine may run maxRetries+1 attempts, each up to the CIF
  // timeout, with delay between them: the safety timer covers all of that.
  const retryTimer = (maxRetries, delay) => (maxRetries + 1) * (client.timeoutMs + delay) + grace();
  const retries = (maxRetries, delay) => ({
    maxRetries: maxRetries === undefined || maxRetries === null ? 3 : maxRetries,
    delay: delay === undefined || delay === null ? 1000 : delay,
  });

  return {
    executeQuery(query, postData, method) {
      const params = { query };
      if (postData !== undefined && postData !== null) params.postData = postData;
      if (method) params.method = method;
      return client.call("enreach.executeQuery", params);
    },
    setANumber(aNumber) {
      return client.call("enreach.setANumber", { aNumber });
    },
    Xrm: {
      createRecord(entityLogicalName, data, maxRetries, delay, options) {
        const r = retries(maxRetries, delay);
        const params = { entityLogicalName, data, ...r };
        if (options && options.idempotent) params.idempotent = true;
        return client.call("enreach.xrm.createRecord", params, { timeoutMs: retryTimer(r.maxRetries, r.delay) });
      },
      updateRecord(entityLogicalName, id, data, maxRetries, delay) {
        const r = retries(maxRetries, delay);
        const params = { entityLogicalName, id, data, ...r };
        return client.call("enreach.xrm.updateRecord", params, { timeoutMs: retryTimer(r.maxRetries, r.delay) });
      },
      retrieveRecord(entityLogicalName, id, options, maxRetries, delay) {
        const r = retries(maxRetries, delay);
        const params = { entityLogicalName, id, ...r };
        if (!isBlank(options)) params.options = options;
        return client.call("enreach.xrm.retrieveRecord", params, { timeoutMs: retryTimer(r.maxRetries, r.delay) });
      },
      execute(data, metaData) {
        const params = { metaData };
        if (data !== undefined && data !== null) params.data = data;
        const r = retries();
        return client.call("enreach.xrm.execute", params, { timeoutMs: retryTimer(r.maxRetries, r.delay) });
      },
    },
  };
}
