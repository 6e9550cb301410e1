using System.Runtime.InteropServices;

namespace Cinnabar.Server.Network;

/// <summary>
/// The few libc calls the event loop needs. We own the loop (epoll + non-blocking read/write) the way
/// Redis's ae does, because .NET's async socket stack adds a thread hop per request that costs more CPU
/// than the request itself at pipeline depth 1.
/// </summary>
internal static unsafe class Native
{
    public const int AF_INET = 2, AF_INET6 = 10;
    public const int SOCK_STREAM = 1, SOCK_NONBLOCK = 0x800, SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1, SO_REUSEADDR = 2, SO_KEEPALIVE = 9, SO_ERROR = 4;
    public const int IPPROTO_TCP = 6, TCP_NODELAY = 1, TCP_KEEPIDLE = 4, TCP_KEEPINTVL = 5, TCP_KEEPCNT = 6;
    public const int IPPROTO_IPV6 = 41, IPV6_V6ONLY = 26;
    public const int EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3;
    public const uint EPOLLIN = 1, EPOLLOUT = 4, EPOLLERR = 8, EPOLLHUP = 16, EPOLLRDHUP = 0x2000;
    public const int EAGAIN = 11, EINTR = 4, EINPROGRESS = 115, EADDRINUSE = 98;
    public const int MSG_NOSIGNAL = 0x4000;
    public const int EFD_NONBLOCK = 0x800, EFD_CLOEXEC = 0x80000;

    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    public struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    [DllImport("libc", SetLastError = true)] public static extern int socket(int domain, int type, int protocol);
    [DllImport("libc", SetLastError = true)] public static extern int setsockopt(int fd, int level, int name, int* value, int len);
    [DllImport("libc", SetLastError = true)] public static extern int getsockopt(int fd, int level, int name, int* value, int* len);
    [DllImport("libc", SetLastError = true)] public static extern int bind(int fd, byte* addr, int len);
    [DllImport("libc", SetLastError = true)] public static extern int listen(int fd, int backlog);
    [DllImport("libc", SetLastError = true)] public static extern int accept4(int fd, byte* addr, int* len, int flags);
    [DllImport("libc", SetLastError = true)] public static extern int getsockname(int fd, byte* addr, int* len);
    [DllImport("libc", SetLastError = true)] public static extern int getpeername(int fd, byte* addr, int* len);
    [DllImport("libc", SetLastError = true)] public static extern int connect(int fd, byte* addr, int len);
    [DllImport("libc", SetLastError = true)] public static extern int poll(PollFd* fds, nuint count, int timeoutMs);
    [DllImport("libc", SetLastError = true)] public static extern int epoll_create1(int flags);
    [DllImport("libc", SetLastError = true)] public static extern int epoll_ctl(int epfd, int op, int fd, EpollEvent* ev);
    [DllImport("libc", SetLastError = true)] public static extern int epoll_wait(int epfd, EpollEvent* events, int max, int timeout);
    [DllImport("libc", SetLastError = true)] public static extern nint read(int fd, byte* buf, nint count);
    [DllImport("libc", SetLastError = true)] public static extern nint send(int fd, byte* buf, nint count, int flags);
    [DllImport("libc", SetLastError = true)] public static extern int close(int fd);
    [DllImport("libc", SetLastError = true)] public static extern int shutdown(int fd, int how);
    [DllImport("libc", SetLastError = true)] public static extern int eventfd(uint initval, int flags);
    [DllImport("libc", SetLastError = true)] public static extern nint write(int fd, byte* buf, nint count);
    [DllImport("libc")] public static extern int getpid();

    public const short POLLIN = 1, POLLOUT = 4;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events, REvents;
    }

    public static int Errno => Marshal.GetLastPInvokeError();

    public static void SetIntOption(int fd, int level, int name, int value) => setsockopt(fd, level, name, &value, sizeof(int));

    /// <summary>Parses "1.2.3.4" or an IPv6 literal into a sockaddr; returns its length, 0 if not an address.</summary>
    public static int MakeSockaddr(string host, int port, byte* sa)
    {
        if (!System.Net.IPAddress.TryParse(host, out var ip)) return 0;
        new Span<byte>(sa, 28).Clear();
        if (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
        {
            *(ushort*)sa = AF_INET;
            sa[2] = (byte)(port >> 8); sa[3] = (byte)port;
            ip.TryWriteBytes(new Span<byte>(sa + 4, 4), out _);
            return 16;
        }
        *(ushort*)sa = AF_INET6;
        sa[2] = (byte)(port >> 8); sa[3] = (byte)port;
        ip.TryWriteBytes(new Span<byte>(sa + 8, 16), out _);
        return 28;
    }

    /// <summary>Formats a sockaddr as "ip:port" the way Redis's CLIENT LIST shows addr/laddr.</summary>
    public static string FormatSockaddr(byte* sa)
    {
        int family = *(ushort*)sa;
        int port = (sa[2] << 8) | sa[3];
        if (family == AF_INET)
            return $"{sa[4]}.{sa[5]}.{sa[6]}.{sa[7]}:{port}";
        if (family == AF_INET6)
            return $"{new System.Net.IPAddress(new ReadOnlySpan<byte>(sa + 8, 16))}:{port}";
        return "/unix:0";
    }
}
