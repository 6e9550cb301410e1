using System.Diagnostics;
using System.Globalization;
using System.Text;
using Cinnabar.Server.Commands;
using Cinnabar.Server.Network;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server;

/// <summary>genRedisInfoString: Redis 7.0's sections and field names, in Redis's order, with our real figures.</summary>
public static class Info
{
    static readonly string[] DefaultSections = { "server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules", "errorstats", "cluster", "keyspace" };
    static readonly string[] AllSections = { "server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace" };

    public static string Generate(CinnabarServer s, IReadOnlyList<string> requested)
    {
        var wanted = new HashSet<string>();
        bool everything = false;
        if (requested.Count == 0) wanted.UnionWith(DefaultSections);
        foreach (var r in requested)
        {
            switch (r)
            {
                case "default": wanted.UnionWith(DefaultSections); break;
                case "all": wanted.UnionWith(AllSections); everything = true; break;
                case "everything": wanted.UnionWith(AllSections); everything = true; break;
                default: wanted.Add(r); break;
            }
        }
        _ = everything;
        var sb = new StringBuilder();
        int sections = 0;
        foreach (var name in AllSections)
        {
            if (!wanted.Contains(name)) continue;
            if (sections++ > 0) sb.Append("\r\n");
            switch (name)
            {
                case "server": Server(s, sb); break;
                case "clients": Clients(s, sb); break;
                case "memory": Memory(s, sb); break;
                case "persistence": Persistence(s, sb); break;
                case "stats": StatsSection(s, sb); break;
                case "replication": Replication(s, sb); break;
                case "cpu": Cpu(sb); break;
                case "modules": sb.Append("# Modules\r\n"); break;
                case "commandstats": CommandStats(s, sb); break;
                case "errorstats": ErrorStats(s, sb); break;
                case "latencystats": sb.Append("# Latencystats\r\n"); break;
                case "cluster": sb.Append("# Cluster\r\n").Append(s.ClusterEnabled ? "cluster_enabled:1\r\n" : "cluster_enabled:0\r\n"); break;
                case "keyspace": Keyspace(s, sb); break;
            }
        }
        return sb.ToString();
    }

    static void Field(StringBuilder sb, string name, object value) =>
        sb.Append(name).Append(':').Append(Convert.ToString(value, CultureInfo.InvariantCulture)).Append("\r\n");

    static string Os()
    {
        try
        {
            string release = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
            return $"Linux {release} {System.Runtime.InteropServices.RuntimeInformation.OSArchitecture switch { System.Runtime.InteropServices.Architecture.X64 => "x86_64", var a => a.ToString().ToLowerInvariant() }}";
        }
        catch (IOException) { return "Linux"; }
    }

    static void Server(CinnabarServer s, StringBuilder sb)
    {
        long nowUs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
        long uptime = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - s.StartMs) / 1000;
        sb.Append("# Server\r\n");
        Field(sb, "redis_version", CinnabarServer.Version);
        Field(sb, "redis_git_sha1", "00000000");
        Field(sb, "redis_git_dirty", 0);
        Field(sb, "redis_build_id", "cinnabar");
        Field(sb, "redis_mode", s.ModeName);
        Field(sb, "os", Os());
        Field(sb, "arch_bits", 64);
        Field(sb, "monotonic_clock", "POSIX clock_gettime");
        Field(sb, "multiplexing_api", "epoll");
        Field(sb, "atomicvar_api", "c11-builtin");
        Field(sb, "gcc_version", "0.0.0");
        Field(sb, "process_id", Environment.ProcessId);
        Field(sb, "process_supervised", "no");
        Field(sb, "run_id", s.RunId);
        Field(sb, "tcp_port", s.Settings.Port);
        Field(sb, "server_time_usec", nowUs);
        Field(sb, "uptime_in_seconds", uptime);
        Field(sb, "uptime_in_days", uptime / 86400);
        Field(sb, "hz", s.Settings.Hz);
        Field(sb, "configured_hz", s.Settings.Hz);
        Field(sb, "lru_clock", Clock.LruClock);
        Field(sb, "executable", s.Executable);
        Field(sb, "config_file", s.ConfigFile);
        Field(sb, "io_threads_active", 0);
    }

    static void Clients(CinnabarServer s, StringBuilder sb)
    {
        long maxIn = 0, maxOut = 0;
        foreach (var c in s.Clients.Values)
        {
            maxIn = Math.Max(maxIn, c.Request.Buffer?.Length ?? 0);
            maxOut = Math.Max(maxOut, c.Reply.Pending);
        }
        sb.Append("# Clients\r\n");
        Field(sb, "connected_clients", s.Clients.Count - s.Repl.Master.Replicas.Count);   // replicas are not counted
        Field(sb, "cluster_connections", s.ClusterConnections());
        Field(sb, "maxclients", s.Settings.MaxClients);
        Field(sb, "client_recent_max_input_buffer", maxIn);
        Field(sb, "client_recent_max_output_buffer", maxOut);
        int withTimeout = 0;
        foreach (var c in s.BlockedClients) if (c.BlockDeadlineMs != 0) withTimeout++;
        Field(sb, "blocked_clients", s.BlockedClients.Count);
        Field(sb, "tracking_clients", 0);
        Field(sb, "clients_in_timeout_table", withTimeout);
    }

    public static string Human(long bytes)
    {
        double d = bytes;
        if (bytes < 1024) return $"{bytes}B";
        string[] units = { "K", "M", "G", "T", "P" };
        int u = -1;
        while (d >= 1024 && u < units.Length - 1) { d /= 1024; u++; }
        return d.ToString("0.00", CultureInfo.InvariantCulture) + units[u];
    }

    static long Rss()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmRSS:"))
                    return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { }
        return 0;
    }

    static long TotalSystemMemory()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemTotal:"))
                    return long.Parse(line[9..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { }
        return 0;
    }

    static void Memory(CinnabarServer s, StringBuilder sb)
    {
        long used = s.UsedMemory();
        long rss = Rss();
        long peak = Math.Max(s.PeakMemory, used);
        long dataset = s.DatasetBytes();
        long overhead = used - dataset;
        long gcHeap = GC.GetTotalMemory(false);
        long sys = TotalSystemMemory();
        sb.Append("# Memory\r\n");
        Field(sb, "used_memory", used);
        Field(sb, "used_memory_human", Human(used));
        Field(sb, "used_memory_rss", rss);
        Field(sb, "used_memory_rss_human", Human(rss));
        Field(sb, "used_memory_peak", peak);
        Field(sb, "used_memory_peak_human", Human(peak));
        Field(sb, "used_memory_peak_perc", (peak == 0 ? 0 : used * 100.0 / peak).ToString("0.00", CultureInfo.InvariantCulture) + "%");
        Field(sb, "used_memory_overhead", overhead);
        Field(sb, "used_memory_startup", s.BaselineMemory);
        Field(sb, "used_memory_dataset", dataset);
        Field(sb, "used_memory_dataset_perc", (used == 0 ? 0 : dataset * 100.0 / used).ToString("0.00", CultureInfo.InvariantCulture) + "%");
        Field(sb, "allocator_allocated", gcHeap);
        Field(sb, "allocator_active", gcHeap);
        Field(sb, "allocator_resident", rss);
        Field(sb, "total_system_memory", sys);
        Field(sb, "total_system_memory_human", Human(sys));
        // Scripting (Scripting/): the interpreters' own heap counts, and what the caches hold.
        var scripting = s.Scripting;
        long luaEval = Math.Max(32768, scripting.EvalMemory), luaFunctions = Math.Max(32768, scripting.FunctionMemory);
        long scriptsEval = scripting.Scripts.Values.Sum(x => (long)x.Body.Length + 40);
        long functionsMem = scripting.Functions.Libraries.Sum(l => (long)l.Code.Length + 64 + l.Functions.Count * 64L);
        Field(sb, "used_memory_lua", luaEval);
        Field(sb, "used_memory_vm_eval", luaEval);
        Field(sb, "used_memory_lua_human", Human(luaEval));
        Field(sb, "used_memory_scripts_eval", scriptsEval);
        Field(sb, "number_of_cached_scripts", scripting.Scripts.Count);
        Field(sb, "number_of_functions", scripting.Functions.FunctionCount);
        Field(sb, "number_of_libraries", scripting.Functions.Libraries.Count);
        Field(sb, "used_memory_vm_functions", luaFunctions);
        Field(sb, "used_memory_vm_total", luaEval + luaFunctions);
        Field(sb, "used_memory_vm_total_human", Human(luaEval + luaFunctions));
        Field(sb, "used_memory_functions", functionsMem);
        Field(sb, "used_memory_scripts", scriptsEval + functionsMem);
        Field(sb, "used_memory_scripts_human", Human(scriptsEval + functionsMem));
        Field(sb, "maxmemory", s.Settings.MaxMemory);
        Field(sb, "maxmemory_human", Human(s.Settings.MaxMemory));
        Field(sb, "maxmemory_policy", s.Config?.GetValue("maxmemory-policy") ?? "noeviction");
        double frag = used == 0 ? 0 : (double)rss / used;
        Field(sb, "allocator_frag_ratio", "1.00");
        Field(sb, "allocator_frag_bytes", 0);
        Field(sb, "allocator_rss_ratio", (gcHeap == 0 ? 0 : (double)rss / gcHeap).ToString("0.00", CultureInfo.InvariantCulture));
        Field(sb, "allocator_rss_bytes", rss - gcHeap);
        Field(sb, "rss_overhead_ratio", "1.00");
        Field(sb, "rss_overhead_bytes", 0);
        Field(sb, "mem_fragmentation_ratio", frag.ToString("0.00", CultureInfo.InvariantCulture));
        Field(sb, "mem_fragmentation_bytes", rss - used);
        Field(sb, "mem_not_counted_for_evict", 0);
        Field(sb, "mem_replication_backlog", s.Repl.Backlog?.Size ?? 0);
        Field(sb, "mem_total_replication_buffers", (s.Repl.Backlog?.Size ?? 0) + s.Repl.Master.ReplicaBuffersBytes());
        Field(sb, "mem_clients_slaves", s.Repl.Master.ReplicaBuffersBytes());
        Field(sb, "mem_clients_normal", s.ClientBuffersBytes());
        Field(sb, "mem_cluster_links", 0);
        Field(sb, "mem_aof_buffer", 0);
        Field(sb, "mem_allocator", "dotnet-gc");
        Field(sb, "active_defrag_running", 0);
        Field(sb, "lazyfree_pending_objects", 0);
        Field(sb, "lazyfreed_objects", 0);
    }

    static void Persistence(CinnabarServer s, StringBuilder sb)
    {
        sb.Append("# Persistence\r\n");
        Field(sb, "loading", s.Loading ? 1 : 0);
        Field(sb, "async_loading", 0);
        Field(sb, "current_cow_peak", 0);
        Field(sb, "current_cow_size", 0);
        Field(sb, "current_cow_size_age", 0);
        Field(sb, "current_fork_perc", "0.00");
        Field(sb, "current_save_keys_processed", s.CurrentSaveKeysProcessed);
        Field(sb, "current_save_keys_total", s.CurrentSaveKeysTotal);
        Field(sb, "rdb_changes_since_last_save", s.DirtyCounter);
        Field(sb, "rdb_bgsave_in_progress", s.RdbBgsaveInProgress ? 1 : 0);
        Field(sb, "rdb_last_save_time", s.LastSaveUnix);
        Field(sb, "rdb_last_bgsave_status", s.LastBgsaveStatusOk == 1 ? "ok" : "err");
        Field(sb, "rdb_last_bgsave_time_sec", s.RdbLastBgsaveTimeSec);
        Field(sb, "rdb_current_bgsave_time_sec", s.RdbCurrentBgsaveTimeSec);
        Field(sb, "rdb_saves", s.RdbSaves);
        Field(sb, "rdb_last_cow_size", 0);
        Field(sb, "rdb_last_load_keys_expired", 0);
        Field(sb, "rdb_last_load_keys_loaded", 0);
        foreach (var (name, value) in s.Aof.InfoFields()) Field(sb, name, value);
        Field(sb, "module_fork_in_progress", 0);
        Field(sb, "module_fork_last_cow_size", 0);
        foreach (var (name, value) in s.Aof.InfoFieldsWhenEnabled()) Field(sb, name, value);
        if (s.Loading) s.AppendLoadingInfo(sb);
    }

    static void StatsSection(CinnabarServer s, StringBuilder sb)
    {
        var st = s.Stats;
        sb.Append("# Stats\r\n");
        Field(sb, "total_connections_received", st.ConnectionsReceived);
        Field(sb, "total_commands_processed", st.CommandsProcessed);
        Field(sb, "instantaneous_ops_per_sec", st.InstantaneousOps);
        Field(sb, "total_net_input_bytes", st.NetInputBytes);
        Field(sb, "total_net_output_bytes", st.NetOutputBytes);
        Field(sb, "total_net_repl_input_bytes", 0);
        Field(sb, "total_net_repl_output_bytes", st.NetReplOutputBytes);
        Field(sb, "instantaneous_input_kbps", st.InstantaneousInputKbps.ToString("0.00", CultureInfo.InvariantCulture));
        Field(sb, "instantaneous_output_kbps", st.InstantaneousOutputKbps.ToString("0.00", CultureInfo.InvariantCulture));
        Field(sb, "instantaneous_input_repl_kbps", "0.00");
        Field(sb, "instantaneous_output_repl_kbps", "0.00");
        Field(sb, "rejected_connections", st.RejectedConnections);
        Field(sb, "sync_full", s.Repl.Master.StatSyncFull);
        Field(sb, "sync_partial_ok", s.Repl.Master.StatSyncPartialOk);
        Field(sb, "sync_partial_err", s.Repl.Master.StatSyncPartialErr);
        Field(sb, "expired_keys", st.ExpiredKeys);
        Field(sb, "expired_stale_perc", "0.00");
        Field(sb, "expired_time_cap_reached_count", 0);
        Field(sb, "expire_cycle_cpu_milliseconds", st.ExpireCycleCpuMs);
        Field(sb, "evicted_keys", st.EvictedKeys);
        Field(sb, "evicted_clients", st.EvictedClients);
        Field(sb, "total_eviction_exceeded_time", st.TotalEvictionExceededMs);
        Field(sb, "current_eviction_exceeded_time", 0);
        Field(sb, "keyspace_hits", st.KeyspaceHits);
        Field(sb, "keyspace_misses", st.KeyspaceMisses);
        Field(sb, "pubsub_channels", s.Channels.Count);
        Field(sb, "pubsub_patterns", s.Patterns.Count);
        Field(sb, "pubsubshard_channels", s.ShardChannels.Count);
        Field(sb, "latest_fork_usec", 0);
        Field(sb, "total_forks", 0);
        Field(sb, "migrate_cached_sockets", s.MigrateSockets.Count);
        Field(sb, "slave_expires_tracked_keys", 0);
        Field(sb, "active_defrag_hits", 0);
        Field(sb, "active_defrag_misses", 0);
        Field(sb, "active_defrag_key_hits", 0);
        Field(sb, "active_defrag_key_misses", 0);
        Field(sb, "total_active_defrag_time", 0);
        Field(sb, "current_active_defrag_time", 0);
        Field(sb, "tracking_total_keys", 0);
        Field(sb, "tracking_total_items", 0);
        Field(sb, "tracking_total_prefixes", 0);
        Field(sb, "unexpected_error_replies", st.UnexpectedErrorReplies);
        Field(sb, "total_error_replies", st.TotalErrorReplies);
        Field(sb, "dump_payload_sanitizations", 0);
        Field(sb, "total_reads_processed", st.ReadsProcessed);
        Field(sb, "total_writes_processed", st.WritesProcessed);
        Field(sb, "io_threaded_reads_processed", 0);
        Field(sb, "io_threaded_writes_processed", 0);
        Field(sb, "reply_buffer_shrinks", 0);
        Field(sb, "reply_buffer_expands", 0);
    }

    /// <summary>INFO replication: the replication state renders it (Replication/), master and replica lines alike.</summary>
    static void Replication(CinnabarServer s, StringBuilder sb) => s.Repl.AppendInfo(sb);

    static void Cpu(StringBuilder sb)
    {
        var p = Process.GetCurrentProcess();
        string F(TimeSpan t) => t.TotalSeconds.ToString("0.000000", CultureInfo.InvariantCulture);
        sb.Append("# CPU\r\n");
        Field(sb, "used_cpu_sys", F(p.PrivilegedProcessorTime));
        Field(sb, "used_cpu_user", F(p.UserProcessorTime));
        Field(sb, "used_cpu_sys_children", "0.000000");
        Field(sb, "used_cpu_user_children", "0.000000");
        Field(sb, "used_cpu_sys_main_thread", F(p.PrivilegedProcessorTime));
        Field(sb, "used_cpu_user_main_thread", F(p.UserProcessorTime));
    }

    static void CommandStats(CinnabarServer s, StringBuilder sb)
    {
        sb.Append("# Commandstats\r\n");
        void One(Command c)
        {
            if (c.Calls == 0 && c.RejectedCalls == 0 && c.FailedCalls == 0) return;
            double per = c.Calls == 0 ? 0 : (double)c.Microseconds / c.Calls;
            sb.Append("cmdstat_").Append(c.FullName).Append(":calls=").Append(c.Calls).Append(",usec=").Append(c.Microseconds)
              .Append(",usec_per_call=").Append(per.ToString("0.00", CultureInfo.InvariantCulture))
              .Append(",rejected_calls=").Append(c.RejectedCalls).Append(",failed_calls=").Append(c.FailedCalls).Append("\r\n");
        }
        foreach (var c in s.Commands.All)
        {
            One(c);
            if (c.Subcommands != null) foreach (var sub in c.Subcommands.Values) One(sub);
        }
    }

    static void ErrorStats(CinnabarServer s, StringBuilder sb)
    {
        sb.Append("# Errorstats\r\n");
        foreach (var (code, count) in s.Stats.ErrorCodes.OrderBy(k => k.Key, StringComparer.Ordinal))
            sb.Append("errorstat_").Append(code).Append(":count=").Append(count).Append("\r\n");
    }

    static void Keyspace(CinnabarServer s, StringBuilder sb)
    {
        sb.Append("# Keyspace\r\n");
        foreach (var db in s.Dbs)
        {
            if (db.Count == 0) continue;
            sb.Append("db").Append(db.Id).Append(":keys=").Append(db.Count).Append(",expires=").Append(db.VolatileCount)
              .Append(",avg_ttl=").Append(AvgTtl(db)).Append("\r\n");
        }
    }

    static long AvgTtl(Db db)
    {
        if (db.VolatileCount == 0) return 0;
        long sum = 0;
        int n = Math.Min(db.VolatileCount, 100);
        for (int i = 0; i < n; i++)
        {
            long ttl = db.Table.At(db.Table.VolatileAt(i)).ExpireAt - Clock.NowMs;
            sum += Math.Max(0, ttl);
        }
        return sum / n;
    }
}
